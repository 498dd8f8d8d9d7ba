"""The durable retry schedule.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from paykit.migrations import create_retry_schedule

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_retry_schedule()


def downgrade() -> None:
    op.drop_table("retry_schedule")
