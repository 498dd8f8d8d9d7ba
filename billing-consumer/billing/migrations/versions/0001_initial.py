"""Authorizations, inbox and outbox.

Revision ID: 0001
Revises:
"""

from alembic import op

from billing.adapters.orm import authorizations
from paykit.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(authorizations.name, *[c.copy() for c in authorizations.columns])


def downgrade() -> None:
    for name in ("authorizations", "outbox", "inbox"):
        op.drop_table(name)
