"""capture-consumer: takes the held money from the shopper, one payment order per seller line."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
