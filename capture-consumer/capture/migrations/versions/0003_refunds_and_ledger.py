"""Refunds and their seller lines, refunded sums on payments and payment orders, and the
double-entry seller ledger (journal entries and their postings, balanced and append-only).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
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


# Checked when the transaction commits, not per row: an entry's postings are inserted one by one
# and only their sum at the end has to be zero.
BALANCED = """
CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT coalesce(sum(amount_minor), 0) FROM postings WHERE entry_id = NEW.entry_id) <> 0
    THEN
        RAISE EXCEPTION 'journal entry % does not balance', NEW.entry_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced();
"""

# A ledger is corrected by a new entry, never by changing an old one.
APPEND_ONLY = """
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
"""


def upgrade() -> None:
    # Spelled out rather than copied from capture.adapters.orm: a revision must keep meaning what
    # it meant when it ran, whatever the tables look like later.
    op.add_column(
        "payments",
        sa.Column("refunded_minor", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_check_constraint(
        "payments_refunded_within_captured",
        "payments",
        "refunded_minor >= 0 AND refunded_minor <= captured_minor",
    )
    op.add_column(
        "payment_orders",
        sa.Column("refunded_minor", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_check_constraint(
        "payment_orders_refunded_within_captured",
        "payment_orders",
        "refunded_minor >= 0 AND refunded_minor <= amount_minor"
        " AND (refunded_minor = 0 OR status = 'CAPTURED')",
    )
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.Text, primary_key=True),
        sa.Column("payment_id", sa.Text, sa.ForeignKey("payments.payment_id"), nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("failure_code", sa.Text),
        sa.Column("failure_reason", sa.Text),
        *timestamps(),
    )
    op.create_index("refunds_payment", "refunds", ["payment_id"])
    op.create_table(
        "refund_lines",
        sa.Column("refund_id", sa.Text, sa.ForeignKey("refunds.refund_id"), primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column(
            "payment_order_id",
            sa.Text,
            sa.ForeignKey("payment_orders.payment_order_id"),
            nullable=False,
        ),
        sa.Column("seller_id", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("provider_refund_id", sa.Text),
        sa.Column("failure_code", sa.Text),
        sa.Column("failure_reason", sa.Text),
        *timestamps(),
        sa.CheckConstraint("amount_minor > 0", name="refund_lines_positive_amount"),
    )
    op.create_table(
        "journal_entries",
        sa.Column("entry_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("payment_order_id", sa.Text, nullable=False),
        sa.Column("refund_id", sa.Text),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column(
            "posted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("kind IN ('capture', 'refund')", name="journal_entries_kind"),
    )
    op.create_table(
        "postings",
        sa.Column("posting_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("entry_id", sa.Text, sa.ForeignKey("journal_entries.entry_id"), nullable=False),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name="postings_not_zero"),
    )
    op.create_index("postings_account", "postings", ["account"])
    op.create_index("postings_entry", "postings", ["entry_id"])
    op.execute(BALANCED)
    op.execute(APPEND_ONLY)


def downgrade() -> None:
    for name in ("postings", "journal_entries", "refund_lines", "refunds"):
        op.drop_table(name)
    op.execute("DROP FUNCTION journal_entry_balanced()")
    op.execute("DROP FUNCTION ledger_append_only()")
    op.drop_constraint("payment_orders_refunded_within_captured", "payment_orders")
    op.drop_column("payment_orders", "refunded_minor")
    op.drop_constraint("payments_refunded_within_captured", "payments")
    op.drop_column("payments", "refunded_minor")
