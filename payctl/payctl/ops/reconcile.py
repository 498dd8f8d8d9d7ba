"""`payctl reconcile`: (being written)."""

from __future__ import annotations

import click


@click.command()
def reconcile() -> None:
    """(being written)"""
    raise click.ClickException("not written yet")
