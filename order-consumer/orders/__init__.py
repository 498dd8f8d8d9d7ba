"""order-consumer: turns an authorized payment into an order and the shopper's SSO token."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
