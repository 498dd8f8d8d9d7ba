"""`payctl lag`: (being written)."""

from __future__ import annotations

import click


@click.command()
def lag() -> None:
    """(being written)"""
    raise click.ClickException("not written yet")
