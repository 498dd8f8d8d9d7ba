"""`payctl trace`: (being written)."""

from __future__ import annotations

import click


@click.command()
def trace() -> None:
    """(being written)"""
    raise click.ClickException("not written yet")
