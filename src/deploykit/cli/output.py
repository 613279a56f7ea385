"""Printing: data on stdout (rich tables for people, JSON for scripts); progress, hints and errors on stderr."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import Enum
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

stdout = Console(soft_wrap=True, emoji=False, highlight=False)
stderr = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)


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


@dataclass(frozen=True)
class Col:
    """A table column. ``drop``: when the table is wider than the terminal, columns are left out highest rank first
    (0: never; the caption says which were left out). A cell is never split inside a word: columns whose values
    hold no spaces (names, numbers, URLs, repo ids) never wrap; free text wraps between words."""

    header: str
    drop: int = 0
    justify: str = "left"


def _cells(row: list[Any]) -> list[str]:
    return ["" if v is None else str(v) for v in row]


def _need(header: str, values: list[str]) -> tuple[int, bool]:
    """(the narrowest width that splits no word of this column, whether it may wrap at all)."""
    texts = [header, *values]
    wraps = any(" " in v for v in values)
    if not wraps:
        return max(cell_len(t) for t in texts), False
    longest_word = max((cell_len(w) for t in texts for w in t.split()), default=1)
    natural = max(cell_len(t) for t in texts)
    return min(natural, max(longest_word, 16)), True


def table(title: str, columns: list[str | Col], rows: list[list[Any]], *, caption: str | None = None,
          width: int | None = None) -> Group:
    """Rows as one table when it fits the terminal (``stdout.width``: COLUMNS, or 80 when not a terminal); else
    the droppable columns are left out, and if it is still too wide, the columns are split over several tables
    that each repeat the first (the name). Names, URLs and numbers are never split across lines."""
    cols = [c if isinstance(c, Col) else Col(c) for c in columns]
    data = [_cells(r) for r in rows]
    width = width or stdout.width
    need = [_need(c.header, [r[i] for r in data]) for i, c in enumerate(cols)]

    def fits(idx: list[int]) -> bool:
        return sum(need[i][0] for i in idx) + 3 * len(idx) + 1 <= width

    keep = list(range(len(cols)))
    dropped: list[str] = []
    for rank in sorted({c.drop for c in cols if c.drop}, reverse=True):
        if fits(keep):
            break
        dropped += [cols[i].header for i in keep if cols[i].drop == rank]
        keep = [i for i in keep if cols[i].drop != rank]
    panels: list[list[int]] = []
    current = [keep[0]]
    for i in keep[1:]:
        if fits([*current, i]) or len(current) == 1:
            current.append(i)
        else:
            panels.append(current)
            current = [keep[0], i]
    panels.append(current)
    notes = []
    if dropped:
        notes.append(f"left out at {width} columns: {', '.join(dropped)} (a wider terminal or --format json "
                     "shows them)")
    if caption:
        notes.insert(0, caption)
    out: list[Any] = []
    for n, idx in enumerate(panels):
        t = Table(title=title if n == 0 else None, header_style="bold", title_justify="left")
        natural = sum(max(cell_len(x) for x in [cols[i].header, *(r[i] for r in data)]) for i in idx)
        if natural + 3 * len(idx) + 1 > width:
            t.width = width  # rich then wraps the free-text columns (between words) to fit
        for i in idx:
            min_w, wraps = need[i]
            t.add_column(cols[i].header, justify=cols[i].justify, no_wrap=not wraps, min_width=min_w,
                         overflow="fold")
        for r in data:
            t.add_row(*[Text(r[i]) for i in idx])
        out.append(t)
    if notes:  # wrapped here: stdout prints with soft_wrap, and a grid would pad every line with spaces
        out.append(Text(_wrap(" ".join(notes), width), style="dim"))
    return Group(*out)


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> str:
    """Lines of at most ``width`` characters, broken between words only (a name, path or URL stays whole)."""
    import textwrap

    return textwrap.fill(text, width, initial_indent=first, subsequent_indent=rest, break_long_words=False,
                         break_on_hyphens=False)


def bullet(text: str, prefix: str = "  - ", *, console: Console | None = None) -> None:
    """One list item, wrapped between words at the terminal's width with a hanging indent (stdout prints long
    lines unwrapped otherwise: soft_wrap keeps rendered files intact). ``prefix`` may hold markup."""
    console = console or stdout
    lead = Text.from_markup(prefix)
    body = _wrap(text, console.width, first=" " * len(lead.plain), rest=" " * len(lead.plain))
    console.print(lead + Text(body[len(lead.plain):]), soft_wrap=True)


def duration(seconds: float) -> str:
    """A short, readable duration: 42s, 17m, 2h05m, 3d04h."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def hint(message: str) -> None:
    """A note for people on stderr, wrapped between words at the terminal's width."""
    stderr.print(Text(_wrap(message, stderr.width), style="dim"), soft_wrap=True)


def warn(message: str) -> None:
    bullet(message, "[yellow]warning:[/yellow] ", console=stderr)
