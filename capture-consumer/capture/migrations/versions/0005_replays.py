"""What `payctl replay` re-delivered, so handlers ask the provider before acting again.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from paykit.migrations import create_replays

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_replays()


def downgrade() -> None:
    op.drop_table("replays")
