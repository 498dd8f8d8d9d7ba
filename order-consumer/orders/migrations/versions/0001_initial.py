"""Orders, the SSO tokens issued for them, inbox and outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from paykit.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Spelled out rather than copied from orders.adapters.orm: a revision must keep meaning what
    # it meant when it ran, whatever the tables look like later.
    create_messaging_tables()
    op.create_table(
        "orders",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("authorization_id", sa.Text, nullable=False),
        sa.Column("lines", postgresql.JSONB, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("refusal_code", sa.Text),
        sa.Column("refusal_reason", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("payment_id", name="orders_one_per_payment"),
    )
    op.create_table(
        "sso_tokens",
        sa.Column("jti", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, sa.ForeignKey("orders.order_id"), nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("sso_tokens_by_order", "sso_tokens", ["order_id"])


def downgrade() -> None:
    for name in ("sso_tokens", "orders", "outbox", "inbox"):
        op.drop_table(name)
