"""`payctl replay`: (being written)."""

from __future__ import annotations

import click


@click.command()
def replay() -> None:
    """(being written)"""
    raise click.ClickException("not written yet")
