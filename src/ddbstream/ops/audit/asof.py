"""``audit as-of``: a table's contents at a moment, rebuilt from the audit log.

For each item key, the change with the highest sequence number whose event time is at or before
the moment decides: a REMOVE means the item was gone, anything else gives its new image. The
result is DynamoDB's items exactly (numbers to the digit, binary, sets), given a stream view
type that carries new images (NEW_IMAGE or NEW_AND_OLD_IMAGES); a key whose deciding change has
no new image (KEYS_ONLY, OLD_IMAGE) cannot be rebuilt and is reported.

Every line is read once cheaply (non-integral numbers kept as their text, which is exact and
fast), and only the deciding line of each key is parsed again into exact values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ddbstream.ops.audit.items import Change, parse_line, parse_line_time, to_dynamodb


@dataclass
class Snapshot:
    table: str
    at: datetime
    items: dict[str, Change] = field(default_factory=dict)  # item key -> deciding change
    changes_read: int = 0
    unknown: list[str] = field(default_factory=list)  # keys without a new image
    # keys whose image lacks attributes that did not decode (a partially decodable change)
    partial: dict[str, list[str]] = field(default_factory=dict)

    def typed_items(self) -> list[dict[str, Any]]:
        """The items as DynamoDB JSON (what a Scan's ``Items`` holds), ordered by key."""
        return [
            to_dynamodb(c.doc["new_image"], c.types("new_image"))
            for _, c in sorted(self.items.items())
        ]

    def plain_items(self) -> list[dict[str, Any]]:
        return [c.doc["new_image"] for _, c in sorted(self.items.items())]


# Non-integral numbers kept as their text: exact, and cheaper than Decimal. One decoder made
# once (json.loads with arguments builds one per call).
_decode = json.JSONDecoder(parse_float=str).decode


def as_of(lines: Iterable[str], table: str, at: datetime) -> Snapshot:
    """Rebuild ``table`` at ``at`` from audit ``lines`` (any order, duplicates allowed)."""
    at_ts = at.timestamp()
    snap = Snapshot(table, at)
    # Key attributes are strings, numbers or binary (scalars): their sorted (name, value) pairs
    # identify an item; a table's key attributes have one type each (its key schema).
    best: dict[tuple[Any, ...], tuple[tuple[int, str], str, str]] = {}
    for line in lines:
        d = _decode(line)
        if d["table_name"] != table:
            continue
        snap.changes_read += 1
        ts = d["approximate_creation_time"]
        if ts is None:  # no creation time in the record: its event time is the batch's arrival
            t = parse_line_time(d["event_time"]).timestamp()
        else:
            t = float(ts) if type(ts) is str else ts
        if t > at_ts:
            continue
        seq = d["sequence_number"]
        order = (len(seq), seq)
        k = tuple(sorted(d["keys"].items()))
        prev = best.get(k)
        if prev is None or order > prev[0]:
            best[k] = (order, d["event_name"], line)
    for _, name, line in best.values():
        if name == "REMOVE":
            continue
        c = parse_line(line)
        if not isinstance(c.doc.get("new_image"), dict):
            snap.unknown.append(c.item_key)
            continue
        snap.items[c.item_key] = c
        missing = c.doc.get("undecodable_attributes")
        if isinstance(missing, dict):
            snap.partial[c.item_key] = sorted(missing)
    return snap
