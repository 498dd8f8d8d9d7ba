"""Checkout sessions: payments a product backend prepares for its shopper's browser to pay.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkout_sessions",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
        sa.Column("return_url", sa.Text),
        sa.Column("key_digest", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        # Checked at commit: the session's update may be flushed before its payment's insert.
        sa.Column(
            "payment_id",
            sa.Text,
            sa.ForeignKey("payments.payment_id", deferrable=True, initially="DEFERRED"),
        ),
        sa.Column("attempts", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("checkout_sessions")
