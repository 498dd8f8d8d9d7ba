"""`payctl dlq`: (being written)."""

from __future__ import annotations

import click


@click.group()
def dlq() -> None:
    """(being written)"""
