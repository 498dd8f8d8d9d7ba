"""How the ops verbs answer: an aligned table for a person, JSON for a script (`--json`), and a
progress bar on standard error while a long read runs on a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import click
from tqdm import tqdm

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def emit_json(document: Any) -> None:
    click.echo(json.dumps(_plain(document), indent=2, sort_keys=False, default=str))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """`rows` as aligned columns under a header; numbers right-aligned."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row.get(c), int | float) or row.get(c) is None for row in rows) and rows
        for c in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(columns)), *(line(r) for r in cells)])


def emit_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], empty: str) -> None:
    click.echo(table(rows, columns) if rows else empty)


def progress(items: Iterable[T], *, total: int | None, what: str) -> Iterator[T]:
    """`items`, with a progress bar on standard error when that is a terminal."""
    yield from tqdm(
        items,
        total=total,
        desc=what,
        unit="msg",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        leave=False,
    )
