"""bff: accepts payments from frontends and keeps the status read model they poll."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
