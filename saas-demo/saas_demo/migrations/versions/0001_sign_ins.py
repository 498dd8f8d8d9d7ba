"""Sign-ins: one row per SSO token used, its `jti` the primary key, so a token signs in once.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_ins",
        sa.Column("jti", sa.Text, primary_key=True),
        sa.Column("session_digest", sa.Text, nullable=False, unique=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("order_id", sa.Text),
        sa.Column("payment_id", sa.Text),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sign_ins")
