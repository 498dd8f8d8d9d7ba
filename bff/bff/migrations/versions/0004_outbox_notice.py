"""The outbox tells its relay when rows are committed (LISTEN/NOTIFY).

Revision ID: 0004
Revises: 0003
"""

from paykit.migrations import drop_outbox_notice, notify_on_outbox_insert

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    notify_on_outbox_insert()


def downgrade() -> None:
    drop_outbox_notice()
