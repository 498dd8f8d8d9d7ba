"""Payments, their payment orders (one per seller line), inbox and outbox.

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


def timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def upgrade() -> None:
    # Spelled out rather than copied from capture.adapters.orm: a revision must keep meaning what
    # it meant when it ran, whatever the tables look like later.
    create_messaging_tables()
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("authorization_id", sa.Text, nullable=False),
        sa.Column("authorized_minor", sa.BigInteger, nullable=False),
        sa.Column("captured_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        *timestamps(),
        sa.CheckConstraint(
            "captured_minor <= authorized_minor", name="payments_captured_within_held"
        ),
    )
    op.create_table(
        "payment_orders",
        sa.Column("payment_order_id", sa.Text, primary_key=True),
        sa.Column("payment_id", sa.Text, sa.ForeignKey("payments.payment_id"), nullable=False),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("seller_id", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("capture_id", sa.Text),
        sa.Column("failure_code", sa.Text),
        sa.Column("failure_reason", sa.Text),
        *timestamps(),
        sa.UniqueConstraint("payment_id", "line_no", name="payment_orders_one_per_line"),
        sa.CheckConstraint("amount_minor > 0", name="payment_orders_positive_amount"),
    )


def downgrade() -> None:
    for name in ("payment_orders", "payments", "outbox", "inbox"):
        op.drop_table(name)
