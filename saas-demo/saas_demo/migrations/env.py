from paykit.migrations import run_migrations
from saas_demo.sign_ins import metadata

run_migrations(metadata)
