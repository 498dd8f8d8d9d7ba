"""psp-sim: a simulated payment provider that authorizes, captures and voids with Stripe-like
rules, and keeps a ledger of every operation so tests can prove exactly-once.
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
