"""Printing: data on stdout (rich tables for people, JSON for scripts); progress, hints and errors on stderr."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

stdout = Console(soft_wrap=True, emoji=False)
stderr = Console(stderr=True, soft_wrap=True, emoji=False)


class Format(str, Enum):
    table = "table"
    json = "json"


def to_data(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):  # a pydantic model (pydantic is imported only by the commands that need it)
        return obj.model_dump(mode="json")
    if isinstance(obj, (list, tuple)):
        return [to_data(o) for o in obj]
    if isinstance(obj, dict):
        return {k: to_data(v) for k, v in obj.items()}
    return obj


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(to_data(obj), indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def table(title: str, columns: list[str], rows: list[list[Any]], *, caption: str | None = None) -> Table:
    t = Table(title=title, caption=caption, header_style="bold", title_justify="left")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    return t


def hint(message: str) -> None:
    stderr.print(f"[dim]{escape(message)}[/dim]", highlight=False)


def warn(message: str) -> None:
    stderr.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)
