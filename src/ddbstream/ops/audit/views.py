"""DuckDB over the cached audit log: the ``changes_raw`` and ``changes`` views.

``changes_raw`` is every line of every object, retries and replays included, with typed
columns (``event_time`` a TIMESTAMP in UTC, keys and images JSON), the object it came from
(``object_key``, ``last_modified``) and the partition columns of its key (``source_table``,
``year``, ``month``, ``day``, ``hour``). ``changes`` is each change once: the first written copy
of each ``event_id`` (earliest ``last_modified``, then key), without the two object columns.

Filters on the partition columns prune objects (DuckDB reads only the matching files, before
and through the deduplication: duplicates of a change always share its partition, so the
window is partitioned by them too). A filter on ``event_time`` alone does not prune; the CLI's
``--since``/``--until`` add the partition condition for it.

Numbers: integers are exact at any size, but DuckDB's JSON functions read a non-integral
number as a double, so one with more than 15 significant digits prints rounded inside SQL
(the lines themselves are exact; ``as-of``, ``history`` and ``tail`` read them in Python).

``json_extract_scalar(json, path)`` is defined as a macro so the same SQL runs on Athena
(Trino), where that is the name of the function.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ddbstream.errors import UserError
from ddbstream.ops.audit.store import MANIFEST, AuditCache

# The audit line's fields and their DuckDB types (core/audit.py event_to_dict, in order).
LINE_COLUMNS: dict[str, str] = {
    "event_id": "VARCHAR",
    "event_name": "VARCHAR",
    "table_name": "VARCHAR",
    "keys": "JSON",
    "new_image": "JSON",
    "old_image": "JSON",
    "added_attributes": "VARCHAR[]",
    "removed_attributes": "VARCHAR[]",
    "changed_attributes": "VARCHAR[]",
    "sequence_number": "VARCHAR",
    "event_time": "VARCHAR",
    "approximate_creation_time": "DOUBLE",
    "size_bytes": "BIGINT",
    "stream_view_type": "VARCHAR",
    "ttl_expiry": "BOOLEAN",
    "aws_region": "VARCHAR",
    "attribute_types": "JSON",
    # only in the line of a partially decodable change (attribute -> why); else NULL here
    "undecodable_attributes": "JSON",
}

# Columns of the changes view, in order (the Athena view in terraform has the same ones).
CHANGES_COLUMNS = [
    "event_id",
    "event_name",
    "table_name",
    "keys",
    "new_image",
    "old_image",
    "added_attributes",
    "removed_attributes",
    "changed_attributes",
    "sequence_number",
    "event_time",
    "approximate_creation_time",
    "size_bytes",
    "stream_view_type",
    "ttl_expiry",
    "aws_region",
    "attribute_types",
    "undecodable_attributes",
    "source_table",
    "year",
    "month",
    "day",
    "hour",
]

_PARTITIONS = "source_table, year, month, day, hour"


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _columns_struct() -> str:
    return "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in LINE_COLUMNS.items()) + "}"


def _empty_raw() -> str:
    cols = ", ".join(
        f"CAST(NULL AS {'VARCHAR' if k == 'event_time' else t}) AS {k}"
        for k, t in LINE_COLUMNS.items()
    )
    return (
        f'SELECT {cols}, CAST(NULL AS VARCHAR) AS filename, CAST(NULL AS VARCHAR) AS "table",'
        " CAST(NULL AS BIGINT) AS year, CAST(NULL AS BIGINT) AS month,"
        " CAST(NULL AS BIGINT) AS day, CAST(NULL AS BIGINT) AS hour WHERE false"
    )


def connect(cache: AuditCache, condition: str = "true", threads: int | None = None) -> Any:
    """An in-memory DuckDB connection with the two views over ``cache``'s files, both narrowed
    to ``condition`` (see :func:`partition_condition`)."""
    import duckdb

    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")
    files = ("table=*", "*", "*", "*", "*", "*.ndjson.gz")
    # folders can outlive their objects (forgotten after lifecycle expiry): look for a file
    if cache.data_dir.is_dir() and next(cache.data_dir.glob("/".join(files)), None):
        pattern = str(cache.data_dir.joinpath(*files))
        source = (
            f"SELECT * FROM read_json({_sql_str(pattern)}, format = 'newline_delimited', "
            f"columns = {_columns_struct()}, hive_partitioning = true, filename = true, "
            "hive_types = {'table': VARCHAR, 'year': BIGINT, 'month': BIGINT, 'day': BIGINT, "
            "'hour': BIGINT})"
        )
    else:
        source = _empty_raw()
    root = str(cache.root).rstrip("/") + "/"
    manifest = cache.root / MANIFEST
    if manifest.exists() and manifest.stat().st_size:
        objects = (
            f"SELECT key, CAST(last_modified AS TIMESTAMP) AS last_modified FROM read_json("
            f"{_sql_str(str(manifest))}, format = 'newline_delimited', "
            "columns = {'key': 'VARCHAR', 'last_modified': 'VARCHAR', 'size': 'BIGINT'})"
        )
    else:
        objects = "SELECT CAST(NULL AS VARCHAR) AS key, CAST(NULL AS TIMESTAMP) AS last_modified"
    line_cols = ", ".join(
        f"r.{k}" if k != "event_time" else "CAST(r.event_time AS TIMESTAMP) AS event_time"
        for k in LINE_COLUMNS
    )
    con.execute(f"CREATE TEMP VIEW _objects AS {objects}")
    con.execute(
        f"""CREATE TEMP VIEW changes_raw AS
        SELECT {line_cols},
               r."table" AS source_table, r.year, r.month, r.day, r.hour,
               substr(r.filename, {len(root) + 1}) AS object_key,
               o.last_modified
        FROM ({source}) r
        LEFT JOIN _objects o ON o.key = substr(r.filename, {len(root) + 1})"""
    )
    if condition != "true":
        con.execute("ALTER VIEW changes_raw RENAME TO _changes_raw_all")
        con.execute(
            f"CREATE TEMP VIEW changes_raw AS SELECT * FROM _changes_raw_all WHERE {condition}"
        )
    cols = ", ".join(CHANGES_COLUMNS)
    con.execute(
        f"""CREATE TEMP VIEW changes AS
        SELECT {cols} FROM (
            SELECT *, row_number() OVER (
                PARTITION BY {_PARTITIONS}, event_id
                ORDER BY last_modified NULLS LAST, object_key) AS _copy
            FROM changes_raw)
        WHERE _copy = 1"""
    )
    # Trino's name for the same thing, so the README's SQL runs unchanged on both engines.
    con.execute(
        "CREATE TEMP MACRO json_extract_scalar(j, p) AS "
        "CASE WHEN json_type(json_extract(j, p)) IN ('OBJECT', 'ARRAY') THEN NULL "
        "ELSE json_extract_string(j, p) END"
    )
    return con


def partition_condition(
    tables: tuple[str, ...] | None, since: datetime | None, until: datetime | None
) -> str:
    """SQL over the partition columns (prunes objects) and event_time for the shortcuts."""
    conds = []
    if tables:
        conds.append(f"source_table IN ({', '.join(_sql_str(t) for t in tables)})")
    if since is not None:
        s = since.replace(tzinfo=None)
        h = s.replace(minute=0, second=0, microsecond=0)
        conds.append(_hour_bound(">=", h))
        conds.append(f"event_time >= TIMESTAMP '{s.isoformat(sep=' ')}'")
    if until is not None:
        u = until.replace(tzinfo=None)
        conds.append(_hour_bound("<=", u.replace(minute=0, second=0, microsecond=0)))
        conds.append(f"event_time <= TIMESTAMP '{u.isoformat(sep=' ')}'")
    return " AND ".join(conds) if conds else "true"


def _hour_bound(op: str, h: datetime) -> str:
    """``(year, month, day, hour) op h`` written on the columns themselves, which DuckDB can
    evaluate on each file's partition values (an expression like make_timestamp() it cannot)."""
    y, m, d, hh = h.year, h.month, h.day, h.hour
    strict = op[0]  # '>' or '<'
    return (
        f"(year {strict} {y} OR (year = {y} AND (month {strict} {m} OR (month = {m} AND "
        f"(day {strict} {d} OR (day = {d} AND hour {op} {hh}))))))"
    )


def run_query(con: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql``; its column names and rows. A bad statement is a one-line UserError."""
    import duckdb

    try:
        rel = con.execute(sql)
        if rel.description is None:
            return [], []
        names = [d[0] for d in rel.description]
        return names, rel.fetchall()
    except duckdb.Error as exc:
        raise UserError(f"query failed: {_one_line(exc)}") from None


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:400]
