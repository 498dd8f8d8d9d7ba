"""The sign-ins table: one row per SSO token used. The token's `jti` is its primary key, so a
second use of the same token inserts nothing and is refused; the session cookie's digest finds
who is signed in."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, DateTime, MetaData, Table, Text, select
from sqlalchemy.dialects.postgresql import insert

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from saas_demo.tokens import Claims

metadata = MetaData()

sign_ins = Table(
    "sign_ins",
    metadata,
    Column("jti", Text, primary_key=True),
    Column("session_digest", Text, nullable=False, unique=True),
    Column("customer_id", Text, nullable=False),
    Column("order_id", Text),
    Column("payment_id", Text),
    Column("token_expires_at", DateTime(timezone=True), nullable=False),
    Column("signed_in_at", DateTime(timezone=True), nullable=False),
)


def session_digest(session: str) -> str:
    # Only the digest is stored: the table's copy signs nobody in. The session id is 256 random
    # bits, so a plain hash is enough.
    return hashlib.sha256(session.encode()).hexdigest()


class SignIns:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, claims: Claims, session: str) -> bool:
        """Signs the token's customer in under `session`; False when the token was used before."""
        with self._engine.begin() as conn:
            inserted = conn.execute(
                insert(sign_ins)
                .values(
                    jti=claims.jti,
                    session_digest=session_digest(session),
                    customer_id=claims.customer_id,
                    order_id=claims.order_id,
                    payment_id=claims.payment_id,
                    token_expires_at=claims.expires_at,
                    signed_in_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=[sign_ins.c.jti])
                .returning(sign_ins.c.jti)
            ).first()
        return inserted is not None

    def customer_of(self, session: str) -> str | None:
        with self._engine.connect() as conn:
            found = conn.execute(
                select(sign_ins.c.customer_id).where(
                    sign_ins.c.session_digest == session_digest(session)
                )
            ).scalar()
        return found if isinstance(found, str) else None
