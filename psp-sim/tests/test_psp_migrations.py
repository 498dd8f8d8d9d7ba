"""psp-sim's migrations go down as well as up, the operation functions working at each step."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic import command
from alembic.config import Config

from paykit.db import sqlalchemy_url
from paykit.migrations import upgrade
from psp_sim import MIGRATIONS

pytestmark = pytest.mark.integration

AUTHORIZE = (
    "SELECT result, status_code, outcome FROM psp_authorize(%s, 'fp', %s, 1000, 'EUR', 'pay_1',"
    " 'authorized', NULL, NULL)"
)
CAPTURE = "SELECT result, status_code, outcome FROM psp_capture(%s, 'fp', %s, %s, 400, 'po_1')"


def authorize_and_capture(database_url: str) -> list[tuple[object, ...]]:
    auth, cap = f"auth_{uuid.uuid4().hex}", f"cap_{uuid.uuid4().hex}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [
            row
            for query, params in (
                (AUTHORIZE, (f"k_{uuid.uuid4().hex}", auth)),
                (CAPTURE, (f"k_{uuid.uuid4().hex}", cap, auth)),
                (CAPTURE, (f"k_{uuid.uuid4().hex}", f"cap_{uuid.uuid4().hex}", "auth_missing")),
            )
            if (row := conn.execute(query, params).fetchone()) is not None
        ]


def test_the_inlined_operation_functions_go_down_to_0003_and_up_again(
    fresh_database: str,
) -> None:
    expected = [
        ("performed", 201, "authorized"),
        ("performed", 201, "succeeded"),
        ("performed", 404, "authorization_not_found"),
    ]
    upgrade(MIGRATIONS, fresh_database)
    assert authorize_and_capture(fresh_database) == expected

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(fresh_database))
    command.downgrade(cfg, "0003")
    assert authorize_and_capture(fresh_database) == expected

    upgrade(MIGRATIONS, fresh_database)
    assert authorize_and_capture(fresh_database) == expected
