"""The changes_raw / changes views: DuckDB over real audit objects written by the processor's
code (no stack, no mocks)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from audit_helpers import write_cache

from ddbstream.errors import UserError
from ddbstream.ops.audit import views
from ddbstream.testing.records import stream_record

T0 = 1_764_064_800  # 2025-11-25T10:00:00Z
W0 = datetime(2025, 11, 25, 10, 5, tzinfo=UTC)


def rec(i: int, name: str = "INSERT", ts: int = T0, table: str = "UserActivities", **extra):  # type: ignore[no-untyped-def]
    keys = {"UserId": f"u{i % 3}", "ActivityId": f"a{i}"}
    new = {**keys, "ActivityType": "LOGIN" if i % 2 else "VIEW", **extra}
    r = stream_record(
        name,
        keys,
        None if name == "REMOVE" else new,
        new if name != "INSERT" else None,
        seq=1000 + i,
        ts=ts,
        table=table,
    )
    r["eventID"] = f"ev-{table}-{i}"
    return r


def test_a_retried_partial_batch_is_counted_once_in_changes(tmp_path: Path) -> None:
    batch = [rec(i) for i in range(10)]
    # the first attempt failed after record 6; the retry re-sends 6..9 in a new object
    cache = write_cache(tmp_path, [(batch, W0), (batch[6:], W0 + timedelta(seconds=30))])
    con = views.connect(cache)
    _, raw = views.run_query(con, "SELECT count(*), count(DISTINCT object_key) FROM changes_raw")
    assert raw == [(14, 2)]
    _, dedup = views.run_query(con, "SELECT count(*), count(DISTINCT event_id) FROM changes")
    assert dedup == [(10, 10)]
    names, rows = views.run_query(
        con, "SELECT event_name, count(*) FROM changes GROUP BY 1 ORDER BY 1"
    )
    assert names == ["event_name", "count_star()"]
    assert rows == [("INSERT", 10)]


def test_the_first_written_copy_is_the_one_kept(tmp_path: Path) -> None:
    """Copies of a change are identical in practice; here the later copy differs (another
    region) so that which one the view keeps shows."""
    first, later = rec(1), rec(1)
    later["awsRegion"] = "eu-west-3"
    cache = write_cache(tmp_path, [([later], W0 + timedelta(seconds=1)), ([first], W0)])
    _, rows = views.run_query(views.connect(cache), "SELECT aws_region FROM changes")
    assert rows == [("us-east-1",)]


def test_typed_columns_timestamp_json_and_partitions(tmp_path: Path) -> None:
    cache = write_cache(tmp_path, [([rec(1, Big=10**37)], W0)])
    con = views.connect(cache)
    _, rows = views.run_query(
        con,
        "SELECT event_time, typeof(event_time), typeof(keys), keys->>'$.UserId', "
        "new_image->>'$.Big', source_table, year, month, day, hour FROM changes",
    )
    assert rows == [
        (
            datetime(2025, 11, 25, 10, 0),
            "TIMESTAMP",
            "JSON",
            "u1",
            str(10**37),
            "UserActivities",
            2025,
            11,
            25,
            10,
        )
    ]
    _, cols = views.run_query(con, "SELECT column_name FROM (DESCRIBE changes)")
    assert [c for (c,) in cols] == views.CHANGES_COLUMNS


def test_json_extract_scalar_works_as_on_athena(tmp_path: Path) -> None:
    cache = write_cache(tmp_path, [([rec(1, Meta={"a": 1})], W0)])
    con = views.connect(cache)
    _, rows = views.run_query(
        con,
        "SELECT json_extract_scalar(new_image, '$.ActivityType'), "
        "json_extract_scalar(new_image, '$.Meta'), json_extract_scalar(new_image, '$.Meta.a') "
        "FROM changes",
    )
    assert rows == [("LOGIN", None, "1")]


def test_partition_conditions_read_only_matching_objects(tmp_path: Path) -> None:
    cache = write_cache(
        tmp_path,
        [
            ([rec(1, ts=T0)], W0),
            ([rec(2, ts=T0 + 3600)], W0),
            ([rec(3, table="Other")], W0),
        ],
    )
    # An unreadable object in another hour: a query that read it would fail.
    bad = cache.data_dir / "table=UserActivities/year=2025/month=11/day=25/hour=09/bad.ndjson.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not gzip")
    con = views.connect(cache)
    with pytest.raises(UserError, match=r"(?i)gzip"):
        views.run_query(con, "SELECT count(*) FROM changes")
    _, rows = views.run_query(
        con, "SELECT count(*) FROM changes WHERE source_table = 'UserActivities' AND hour >= 10"
    )
    assert rows == [(2,)]
    since = datetime(2025, 11, 25, 11, 0, tzinfo=UTC)
    cond = views.partition_condition(("UserActivities",), since, None)
    _, rows = views.run_query(views.connect(cache, cond), "SELECT event_id FROM changes")
    assert rows == [("ev-UserActivities-2",)]
    until = datetime(2025, 11, 25, 10, 30, tzinfo=UTC)
    cond = views.partition_condition(None, datetime(2025, 11, 25, 10, tzinfo=UTC), until)
    _, rows = views.run_query(views.connect(cache, cond), "SELECT event_id FROM changes ORDER BY 1")
    assert rows == [("ev-Other-3",), ("ev-UserActivities-1",)]


def test_bad_sql_is_one_line_naming_the_problem(tmp_path: Path) -> None:
    con = views.connect(write_cache(tmp_path, [([rec(1)], W0)]))
    with pytest.raises(UserError) as e:
        views.run_query(con, "SELEC count(*) FROM changes")
    assert "\n" not in str(e.value) and "syntax error" in str(e.value)
    with pytest.raises(UserError, match="no_such_column"):
        views.run_query(con, "SELECT no_such_column FROM changes")


def test_an_empty_log_has_empty_views_with_the_columns(tmp_path: Path) -> None:
    from ddbstream.ops.audit.store import AuditCache

    con = views.connect(AuditCache(None, "b", "audit-logs/", tmp_path))
    names, rows = views.run_query(con, "SELECT * FROM changes")
    assert names == views.CHANGES_COLUMNS and rows == []
    # every object forgotten (expired), their folders left behind
    cache = write_cache(tmp_path / "expired", [([rec(1)], W0)])
    for path in cache.data_dir.rglob("*.ndjson.gz"):
        path.unlink()
    _, rows = views.run_query(views.connect(cache), "SELECT count(*) FROM changes_raw")
    assert rows == [(0,)]


def test_every_line_field_has_a_column(tmp_path: Path) -> None:
    cache = write_cache(tmp_path, [([rec(1, Tags={"a", "b"}, N=Decimal("1.5"))], W0)])
    (path,) = cache.data_dir.rglob("*.ndjson.gz")
    line = json.loads(gzip.decompress(path.read_bytes()))
    # undecodable_attributes is only in the line of a partially decodable change
    assert [*line, "undecodable_attributes"] == list(views.LINE_COLUMNS)


def test_the_athena_view_has_the_columns_of_this_one() -> None:
    """The README's SQL runs on both engines: the Terraform view's columns are these, in order."""
    sql = (
        Path(__file__).parents[3] / "terraform/modules/ddbstream/athena/changes_view.sql"
    ).read_text()
    select = sql.split("SELECT", 1)[1].split("FROM (", 1)[0]
    names = [line.strip().rstrip(",").split()[-1] for line in select.splitlines() if line.strip()]
    assert names == views.CHANGES_COLUMNS


def test_the_readme_question_runs_as_written(tmp_path: Path) -> None:
    """The README answers one question with the same SQL locally and on Athena: it runs here."""
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    section = readme.split("**The same question on Athena.**", 1)[1]
    sql = section.split("```sql\n", 1)[1].split("```", 1)[0]
    t = 1_793_750_400  # 2026-11-03T00:00:00Z
    table = "stream-processing-development-UserActivities"
    recs = [rec(i, ts=t, table=table) for i in range(5)]
    recs.append(rec(9, "REMOVE", ts=t, table=table))
    cache = write_cache(tmp_path, [(recs, W0)])
    names, rows = views.run_query(views.connect(cache), sql)
    assert names == ["activity", "changes"]
    assert rows == [("VIEW", 3), ("LOGIN", 2)]
