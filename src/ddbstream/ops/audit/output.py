"""Query results as an aligned table, CSV or JSON lines."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ddbstream.core.jsonenc import dumps

MAX_CELL = 60  # characters of a cell in the aligned table (the rest elided)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (list, dict)):
        return dumps(v)
    return str(v)


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat() + ("Z" if v.tzinfo is None else "")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return v
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return v


def table(names: list[str], rows: list[tuple[Any, ...]]) -> str:
    """An aligned text table (the default output), with a row count."""
    cells = [[_cell(v) for v in r] for r in rows]
    cells = [[c if len(c) <= MAX_CELL else c[: MAX_CELL - 1] + "…" for c in r] for r in cells]
    widths = [len(n) for n in names]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    out = [
        "  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def csv_text(names: list[str], rows: list[tuple[Any, ...]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for r in rows:
        w.writerow([_cell(v) for v in r])
    return buf.getvalue().rstrip("\n")


def json_lines(
    names: list[str], rows: list[tuple[Any, ...]], json_columns: frozenset[str] | set[str]
) -> str:
    """One JSON object per row; JSON-typed columns (keys, images) as JSON, not as text."""
    out = []
    for r in rows:
        doc = {}
        for n, v in zip(names, r, strict=True):
            if n in json_columns and isinstance(v, str):
                with contextlib.suppress(ValueError):
                    v = json.loads(v)
            doc[n] = _json_value(v)
        out.append(dumps(doc))
    return "\n".join(out)


def render(
    fmt: str,
    names: list[str],
    rows: list[tuple[Any, ...]],
    json_columns: frozenset[str] | set[str] = frozenset(),
) -> str:
    if fmt == "csv":
        return csv_text(names, rows)
    if fmt == "json":
        return json_lines(names, rows, json_columns)
    return table(names, rows)
