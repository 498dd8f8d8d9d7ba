"""psp-sim: a simulated payment provider that authorizes, captures, voids and refunds with
Stripe-like rules, keeps a ledger of every operation so tests can prove exactly-once, and can be
switched to be slow or to fail (timeouts, 5xx) while it runs.
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
