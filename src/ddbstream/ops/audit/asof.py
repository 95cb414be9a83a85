"""``audit as-of``: a table's contents at a moment, rebuilt from the audit log.

For each item key, the change with the highest sequence number whose event time is at or before
the moment decides: a REMOVE means the item was gone, anything else gives its new image. The
result is DynamoDB's items exactly (numbers to the digit, binary, sets), given a stream view
type that carries new images (NEW_IMAGE or NEW_AND_OLD_IMAGES); a key whose deciding change has
no new image (KEYS_ONLY, OLD_IMAGE) cannot be rebuilt and is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ddbstream.ops.audit.items import Change, item_key, to_dynamodb


@dataclass
class Snapshot:
    table: str
    at: datetime
    items: dict[str, Change] = field(default_factory=dict)  # item key -> deciding change
    changes_read: int = 0
    unknown: list[str] = field(default_factory=list)  # keys without a new image

    def typed_items(self) -> list[dict[str, Any]]:
        """The items as DynamoDB JSON (what a Scan's ``Items`` holds), ordered by key."""
        return [
            to_dynamodb(c.doc["new_image"], c.types("new_image"))
            for _, c in sorted(self.items.items())
        ]

    def plain_items(self) -> list[dict[str, Any]]:
        return [c.doc["new_image"] for _, c in sorted(self.items.items())]


def as_of(changes: Iterable[Change], table: str, at: datetime) -> Snapshot:
    """Rebuild ``table`` at ``at`` from ``changes`` (any order, duplicates allowed)."""
    latest: dict[str, Change] = {}
    snap = Snapshot(table, at)
    for c in changes:
        if c.table != table:
            continue
        snap.changes_read += 1
        if c.event_time > at:
            continue
        k = item_key(c.keys)
        prev = latest.get(k)
        if prev is None or c.order > prev.order:
            latest[k] = c
    for k, c in latest.items():
        if c.event_name == "REMOVE":
            continue
        if not isinstance(c.doc.get("new_image"), dict):
            snap.unknown.append(k)
            continue
        snap.items[k] = c
    return snap
