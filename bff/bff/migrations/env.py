from bff.adapters.orm import metadata
from paykit.migrations import run_migrations

run_migrations(metadata)
