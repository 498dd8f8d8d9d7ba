from paykit.migrations import run_migrations
from psp_sim.tables import metadata

run_migrations(metadata)
