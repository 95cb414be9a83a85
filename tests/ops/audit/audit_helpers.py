"""Audit objects built by the processor's own code, written where an AuditCache keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ddbstream.core.audit import AuditObject, build_audit_objects, event_to_line
from ddbstream.core.decode import decode_record
from ddbstream.ops.audit.store import AuditCache
from ddbstream.ops.audit.store import AuditObject as CachedObject

PREFIX = "audit-logs/"


def objects_of(records: Sequence[dict[str, Any]]) -> list[AuditObject]:
    """The audit objects the processor writes for one batch of stream records."""
    items = []
    for i, r in enumerate(records):
        ev = decode_record(r)
        items.append((i, ev, event_to_line(ev)))
    return build_audit_objects(PREFIX, items)


def write_cache(
    root: Path, batches: Sequence[tuple[Sequence[dict[str, Any]], datetime]]
) -> AuditCache:
    """A cache holding each batch's objects, written at the time given (S3's LastModified)."""
    cache = AuditCache(None, "bucket", PREFIX, root)
    known = {o.key: o for o in cache.objects()}
    for records, written in batches:
        for obj in objects_of(records):
            path = cache.path_of(obj.key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(obj.body)
            p = obj.partition
            hour = datetime(p.year, p.month, p.day, p.hour, tzinfo=UTC)
            known.setdefault(obj.key, CachedObject(obj.key, p.table, hour, written, len(obj.body)))
    cache._write_manifest(known.values())
    return cache
