"""Refunds, the refunded total of a payment, and each seller line's capture in `payments.lines`.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "payments",
        sa.Column("refunded_minor", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_check_constraint(
        "payments_refunded_within_captured", "payments", "refunded_minor <= captured_minor"
    )
    # Before this revision a payment was CAPTURED only once every line was captured in full, so
    # its lines can say so; the lines of any other payment read as not captured yet.
    op.execute(
        """
        UPDATE payments SET lines = (
            SELECT jsonb_agg(
                line || jsonb_build_object(
                    'capture_status', 'CAPTURED', 'captured_minor', line -> 'amount_minor'
                )
                ORDER BY n
            )
            FROM jsonb_array_elements(lines) WITH ORDINALITY AS t(line, n)
        )
        WHERE status = 'CAPTURED'
        """
    )
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.Text, primary_key=True),
        sa.Column("payment_id", sa.Text, sa.ForeignKey("payments.payment_id"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("failure_code", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name="refunds_amount_positive"),
    )
    op.create_index("refunds_by_payment", "refunds", ["payment_id", "requested_at"])


def downgrade() -> None:
    op.drop_index("refunds_by_payment", "refunds")
    op.drop_table("refunds")
    # Revision 0001's code knows neither these statuses nor the lines' capture.
    op.execute(
        """
        UPDATE payments SET status = 'CAPTURED'
        WHERE status IN ('PARTIALLY_CAPTURED', 'PARTIALLY_REFUNDED', 'REFUNDED')
        """
    )
    op.execute(
        """
        UPDATE payments SET lines = (
            SELECT jsonb_agg(line - 'capture_status' - 'captured_minor' ORDER BY n)
            FROM jsonb_array_elements(lines) WITH ORDINALITY AS t(line, n)
        )
        """
    )
    op.drop_constraint("payments_refunded_within_captured", "payments")
    op.drop_column("payments", "refunded_minor")
