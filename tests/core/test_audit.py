"""Audit objects: NDJSON lines, Hive partitions, content-derived keys, deterministic gzip."""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal

from ddbstream.core.audit import build_audit_objects, event_to_line, read_audit_body
from ddbstream.core.decode import decode_record
from ddbstream.testing.records import activity, stream_record

KEYS = {"UserId": "u1", "ActivityId": "a1"}
T0 = 1_764_064_800  # 2025-11-25T10:00:00Z


def items(records):  # type: ignore[no-untyped-def]
    out = []
    for i, r in enumerate(records):
        ev = decode_record(r)
        out.append((i, ev, event_to_line(ev)))
    return out


def batch(n=5, ts=T0, table="UserActivities"):  # type: ignore[no-untyped-def]
    return [
        stream_record("INSERT", KEYS, activity(f"u{i}", i), seq=i + 1, ts=ts + i, table=table)
        for i in range(n)
    ]


def test_one_object_per_batch_with_every_change_in_order():
    objs = build_audit_objects("audit-logs/", items(batch(5)))
    assert len(objs) == 1
    rows = read_audit_body(objs[0].body)
    assert [r["sequence_number"] for r in rows] == [str(i + 1).zfill(21) for i in range(5)]
    assert objs[0].indices == (0, 1, 2, 3, 4)
    assert objs[0].line_count == 5
    assert objs[0].content_type == "application/x-ndjson"
    assert objs[0].content_encoding == "gzip"


def test_key_layout_is_hive_partitioned():
    (obj,) = build_audit_objects("audit-logs/", items(batch(1)))
    assert re.fullmatch(
        r"audit-logs/table=UserActivities/year=2025/month=11/day=25/hour=10/[0-9a-f]{32}\.ndjson\.gz",
        obj.key,
    )


def test_key_follows_the_first_change_and_bytes_the_content():
    a = build_audit_objects("audit-logs/", items(batch(5)))
    b = build_audit_objects("audit-logs/", items(batch(5)))
    assert [o.key for o in a] == [o.key for o in b]
    assert [o.body for o in a] == [o.body for o in b]
    # gzip header without a timestamp: mtime bytes are zero
    assert a[0].body[4:8] == b"\x00\x00\x00\x00"
    # a retry from the same first change, with more or fewer records after it: the same key
    # (it overwrites the object instead of adding a copy of every change in it)
    c = build_audit_objects("audit-logs/", items(batch(4)))
    assert c[0].key == a[0].key and c[0].body != a[0].body
    # a batch starting at another change: another key
    d = build_audit_objects("audit-logs/", items(batch(5)[1:]))
    assert d[0].key != a[0].key


def test_batch_spanning_an_hour_boundary_is_one_object_per_hour():
    recs = batch(3, ts=T0 - 2)  # 09:59:58, 09:59:59, 10:00:00
    objs = build_audit_objects("p/", items(recs))
    assert [o.key.split("/")[5] for o in objs] == ["hour=09", "hour=10"]
    assert [o.indices for o in objs] == [(0, 1), (2,)]


def test_batch_from_two_tables_is_one_object_per_table():
    recs = batch(2) + batch(2, table="Other")
    objs = build_audit_objects("p/", items(recs))
    assert sorted(o.key.split("/")[1] for o in objs) == ["table=Other", "table=UserActivities"]


def test_line_keeps_exact_numbers_binary_sets_and_nulls():
    new = {
        **KEYS,
        "Pi": Decimal("3.1415926535897932384626433832795028841"),
        "Small": Decimal("0.1"),
        "Big": 10**37,
        "Tags": {"b", "a"},
        "Blob": b"\x00\x01",
        "Nothing": None,
    }
    ev = decode_record(stream_record("INSERT", KEYS, new))
    line = event_to_line(ev)
    assert '"Pi":3.1415926535897932384626433832795028841' in line
    assert '"Small":0.1' in line
    assert f'"Big":{10**37}' in line
    assert '"Tags":["a","b"]' in line
    assert '"Blob":"AAE="' in line
    assert '"Nothing":null' in line
    doc = json.loads(line)  # valid JSON
    assert doc["event_time"] == "2025-11-25T10:00:00Z"
    assert doc["table_name"] == "UserActivities"
    assert doc["keys"] == KEYS
    # the types the JSON values hide, so a reader can rebuild the item exactly
    assert doc["attribute_types"] == {"new_image": {"Tags": "SS", "Blob": "B"}}


def test_gzip_body_decompresses_to_ndjson():
    (obj,) = build_audit_objects("p/", items(batch(3)))
    text = gzip.decompress(obj.body).decode()
    assert text.endswith("\n")
    assert len(text.splitlines()) == 3
