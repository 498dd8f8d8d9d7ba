"""Refunds in the ledger: the kind `refund`, and the capture each refund belongs to.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("operations", sa.Column("capture_id", sa.Text))
    op.create_index("operations_capture_id", "operations", ["capture_id"])
    op.drop_constraint("operations_kind", "operations", type_="check")
    op.create_check_constraint(
        "operations_kind", "operations", "kind IN ('authorization', 'capture', 'void', 'refund')"
    )


def downgrade() -> None:
    # Refund rows cannot be expressed in the older schema, so going back refuses while any exist
    # (the restored check fails) rather than silently dropping money movements.
    op.drop_constraint("operations_kind", "operations", type_="check")
    op.create_check_constraint(
        "operations_kind", "operations", "kind IN ('authorization', 'capture', 'void')"
    )
    op.drop_index("operations_capture_id", "operations")
    op.drop_column("operations", "capture_id")
