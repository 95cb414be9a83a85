"""The audit cache against a real S3 API (the session's moto server): what a sync lists,
downloads and forgets."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import PREFIX, objects_of

from ddbstream.ops.audit.store import AuditCache, Scope, parse_key
from ddbstream.testing.records import stream_record

T0 = 1_764_064_800  # 2025-11-25T10:00:00Z


def put_batch(
    s3: Any, bucket: str, n: int, ts: int = T0, table: str = "UserActivities"
) -> list[str]:
    recs = [
        stream_record(
            "INSERT", {"UserId": f"u{i}"}, {"UserId": f"u{i}"}, seq=i + 1, ts=ts, table=table
        )
        for i in range(n)
    ]
    keys = []
    for obj in objects_of(recs):
        s3.put_object(Bucket=bucket, Key=obj.key, Body=obj.body)
        keys.append(obj.key)
    return keys


@pytest.fixture
def bucket(aws_client: Any) -> tuple[Any, str]:
    s3 = aws_client("s3")
    name = f"audit-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return s3, name


def test_sync_downloads_only_what_it_lacks_and_forgets_deleted_objects(
    bucket: tuple[Any, str], tmp_path: Path
) -> None:
    s3, name = bucket
    a = put_batch(s3, name, 3)
    b = put_batch(s3, name, 2, ts=T0 + 3600)
    s3.put_object(Bucket=name, Key=f"{PREFIX}README.txt", Body=b"not an audit object")
    cache = AuditCache(s3, name, PREFIX, tmp_path)
    first = cache.sync()
    assert (first.listed, first.downloaded, first.removed) == (2, 2, 0)
    assert sorted(o.key for o in cache.objects()) == sorted(a + b)
    assert all(cache.path_of(k).exists() for k in a + b)
    again = cache.sync()
    assert (again.listed, again.downloaded, again.list_calls) == (2, 0, 1)
    s3.delete_object(Bucket=name, Key=a[0])
    gone = cache.sync()
    assert gone.removed == 1 and not cache.path_of(a[0]).exists()
    assert [o.key for o in cache.objects()] == b


def test_the_first_write_time_is_kept_when_a_retry_overwrites_an_object(
    bucket: tuple[Any, str], tmp_path: Path
) -> None:
    s3, name = bucket
    (key,) = put_batch(s3, name, 1)
    cache = AuditCache(s3, name, PREFIX, tmp_path)
    cache.sync()
    (first,) = cache.objects()
    s3.put_object(Bucket=name, Key=key, Body=s3.get_object(Bucket=name, Key=key)["Body"].read())
    cache.sync()
    assert cache.objects()[0].last_modified == first.last_modified


def test_an_object_a_retry_rewrote_with_more_changes_is_fetched_again(
    bucket: tuple[Any, str], tmp_path: Path
) -> None:
    """Audit keys name the object's first change, not its content: a retry that starts from
    the same change rewrites the object with whatever follows it this time (README, "What a
    batch produces"). A sync between the two writes must not keep the first version forever
    (found: the cache trusted keys as content hashes, so changes only in the rewrite were
    missing from every query)."""
    s3, name = bucket
    recs = [
        stream_record("INSERT", {"UserId": f"u{i}"}, {"UserId": f"u{i}"}, seq=i + 1, ts=T0)
        for i in range(4)
    ]
    (short,) = objects_of(recs[:2])
    (long,) = objects_of(recs)
    assert short.key == long.key
    s3.put_object(Bucket=name, Key=short.key, Body=short.body)
    cache = AuditCache(s3, name, PREFIX, tmp_path)
    cache.sync()
    (first,) = cache.objects()
    assert len(cache.read_lines(first)) == 2
    s3.put_object(Bucket=name, Key=long.key, Body=long.body)
    stats = cache.sync()
    (obj,) = cache.objects()
    assert stats.downloaded == 1 and len(cache.read_lines(obj)) == 4
    assert obj.last_modified == first.last_modified, "the first write time is kept"
    assert cache.sync().downloaded == 0, "an unchanged object is not fetched again"


def test_a_scoped_sync_lists_only_its_tables_and_hours(
    bucket: tuple[Any, str], tmp_path: Path
) -> None:
    s3, name = bucket
    put_batch(s3, name, 1, table="A")
    late = put_batch(s3, name, 1, ts=T0 + 2 * 86400, table="A")
    put_batch(s3, name, 1, table="B")
    cache = AuditCache(s3, name, PREFIX, tmp_path)
    since = datetime(2025, 11, 27, 0, tzinfo=UTC)
    stats = cache.sync(Scope(("A",), since, datetime(2025, 11, 27, 23, tzinfo=UTC)))
    assert stats.downloaded == 1 and [o.key for o in cache.objects()] == late
    # one listing: the day's prefix of the one table
    assert stats.list_calls == 1
    assert sorted(cache.tables()) == ["A", "B"]


def test_keys_outside_the_layout_or_the_cache_are_ignored() -> None:
    assert parse_key(PREFIX, f"{PREFIX}table=T/year=2026/month=11/day=27/hour=14/ab.ndjson.gz") == (
        "T",
        datetime(2026, 11, 27, 14, tzinfo=UTC),
    )
    assert (
        parse_key(PREFIX, f"{PREFIX}table=T/year=2026/month=13/day=27/hour=14/a.ndjson.gz") is None
    )
    assert parse_key(PREFIX, f"{PREFIX}table=T/x.ndjson.gz") is None
    assert parse_key(PREFIX, "other/table=T/year=2026/month=11/day=27/hour=14/a.ndjson.gz") is None


@pytest.mark.timeout(90)  # a hang guard; under CI load the sync alone took ~20 s
def test_tail_follow_prints_the_changes_a_rewrite_added(
    bucket: tuple[Any, str], tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    """`audit tail -f` prints each new change once, including those that reach the log only in
    a retry's rewrite of an object it had already shown (found: objects were followed by key,
    so such changes were never printed)."""
    import threading

    from ddbstream import cli
    from ddbstream.ops.audit import commands

    s3, name = bucket
    now = int(time.time())
    recs = [
        stream_record("INSERT", {"UserId": f"u{i}"}, {"UserId": f"u{i}"}, seq=i + 1, ts=now)
        for i in range(3)
    ]
    (short,) = objects_of(recs[:1])
    (long,) = objects_of(recs)
    s3.put_object(Bucket=name, Key=short.key, Body=short.body)
    cache = AuditCache(s3, name, PREFIX, tmp_path)
    monkeypatch.setattr(commands, "open_cache", lambda args: (None, cache))
    rewrite = threading.Timer(1.0, lambda: s3.put_object(Bucket=name, Key=long.key, Body=long.body))
    rewrite.start()
    try:
        argv = ["audit", "tail", "-f", "-q", "--interval", "0.2", "--stop-after", "2", "-n", "5"]
        assert cli.main([*argv, "--state-dir", str(tmp_path)]) == 0
    finally:
        rewrite.cancel()
    out = capsys.readouterr().out.splitlines()
    assert [re.findall(r"\bu\d\b", line) for line in out] == [["u0"], ["u1"], ["u2"]], out
