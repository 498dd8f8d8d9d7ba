"""What `payctl replay` re-delivered, so handlers ask the provider before acting again.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from paykit.migrations import create_replays

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_replays()


def downgrade() -> None:
    op.drop_table("replays")
