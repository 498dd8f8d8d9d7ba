"""Authorizations, inbox and outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from paykit.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Spelled out rather than copied from billing.adapters.orm: a revision must keep meaning what
    # it meant when it ran, whatever the tables look like later.
    create_messaging_tables()
    op.create_table(
        "authorizations",
        sa.Column("payment_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("payment_method", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("provider_authorization_id", sa.Text),
        sa.Column("decline_code", sa.Text),
        sa.Column("decline_reason", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    for name in ("authorizations", "outbox", "inbox"):
        op.drop_table(name)
