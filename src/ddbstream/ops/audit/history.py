"""``audit history``: one item's changes in stream order, with what each changed.

Each change is compared with the item as it stood before it: the change's old image when the
stream carries one, else the previous change's new image.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ddbstream.core.jsonenc import dumps
from ddbstream.errors import UserError
from ddbstream.ops.audit.items import Change, diff, first_copies


@dataclass
class Step:
    change: Change
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, tuple[Any, Any]]

    def to_json(self) -> dict[str, Any]:
        c = self.change
        return {
            "event_time": c.doc["event_time"],
            "event_name": c.event_name,
            "sequence_number": c.sequence_number,
            "event_id": c.event_id,
            "table_name": c.table,
            "keys": c.keys,
            "added": self.added,
            "removed": self.removed,
            "changed": {k: {"old": o, "new": n} for k, (o, n) in self.changed.items()},
        }


def parse_key_args(pairs: list[str]) -> dict[str, str]:
    """``["UserId=u1", "ActivityId=a1"]`` -> ``{"UserId": "u1", ...}``."""
    out: dict[str, str] = {}
    for p in pairs:
        name, eq, value = p.partition("=")
        if not eq or not name:
            raise UserError(f"key {p!r}: write it as NAME=VALUE (for instance UserId=user-001)")
        out[name] = value
    if not out:
        raise UserError("give the item's key as NAME=VALUE (one per key attribute)")
    return out


def key_matches(keys: dict[str, Any], wanted: dict[str, str]) -> bool:
    """Every wanted attribute is in ``keys`` with that value (a number compares by value)."""
    for name, text in wanted.items():
        if name not in keys:
            return False
        v = keys[name]
        if isinstance(v, str):
            if v != text:
                return False
        elif isinstance(v, (int, Decimal)) and not isinstance(v, bool):
            try:
                if Decimal(text) != v:
                    return False
            except InvalidOperation:
                return False
        else:
            return False
    return True


def prefilter_for(wanted: dict[str, str]) -> str | None:
    """Text every matching line contains (a cheap test before parsing), if any."""
    from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]

    for text in wanted.values():
        try:
            Decimal(text)
        except InvalidOperation:
            return str(encode_basestring_ascii(text))
    return None


def history(changes: Iterable[Change], table: str, wanted: dict[str, str]) -> dict[str, list[Step]]:
    """The steps of each matching item (item key -> steps in stream order)."""
    by_item: dict[str, list[Change]] = {}
    for c in first_copies(changes):
        if c.table == table and key_matches(c.keys, wanted):
            by_item.setdefault(c.item_key, []).append(c)
    out: dict[str, list[Step]] = {}
    for k, cs in sorted(by_item.items()):
        cs.sort(key=lambda c: c.order)
        steps = []
        state: dict[str, Any] | None = None
        for c in cs:
            old = c.doc.get("old_image")
            before = old if isinstance(old, dict) else state
            new = c.doc.get("new_image")
            after = None if c.event_name == "REMOVE" else (new if isinstance(new, dict) else None)
            if c.event_name == "REMOVE":
                a, r, ch = {}, dict(before or {}), {}
            else:
                a, r, ch = diff(before, after)
            steps.append(Step(c, a, r, ch))
            state = after
        out[k] = steps
    return out


def render(steps_by_item: dict[str, list[Step]]) -> str:
    lines: list[str] = []
    for k, steps in steps_by_item.items():
        lines.append(f"item {k}: {len(steps)} change(s)")
        for s in steps:
            c = s.change
            lines.append(f"  {c.doc['event_time']}  {c.event_name:<6}  seq {c.sequence_number}")
            for name, v in s.added.items():
                lines.append(f"      + {name} = {dumps(v)}")
            for name, v in s.removed.items():
                lines.append(f"      - {name} (was {dumps(v)})")
            for name, (o, n) in s.changed.items():
                lines.append(f"      ~ {name}: {dumps(o)} -> {dumps(n)}")
            if c.event_name == "MODIFY" and not (s.added or s.removed or s.changed):
                lines.append("      (no attribute changed)")
    return "\n".join(lines)
