"""billing-consumer: holds and releases the shopper's money at the payment provider."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
