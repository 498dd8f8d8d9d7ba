"""Payments with their status read model and history, idempotency keys, inbox and outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from paykit.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Spelled out rather than copied from bff.adapters.orm: a revision must keep meaning what it
    # meant when it ran, whatever the tables look like later.
    create_messaging_tables()
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
        sa.Column("return_url", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("authorized_minor", sa.BigInteger, nullable=False),
        sa.Column("captured_minor", sa.BigInteger, nullable=False),
        sa.Column("order_id", sa.Text),
        sa.Column("sso_token", sa.Text),
        sa.Column("redirect_url", sa.Text),
        sa.Column("failure_code", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payment_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("payment_id", sa.Text, sa.ForeignKey("payments.payment_id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("payment_history_by_payment", "payment_history", ["payment_id", "at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    for name in ("idempotency_keys", "payment_history", "payments", "outbox", "inbox"):
        op.drop_table(name)
