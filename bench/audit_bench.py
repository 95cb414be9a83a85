"""Benchmark of ``ddbstream audit`` (``make bench``). Figures are printed, never asserted.

100,000 changes (inserts, updates, deletes over 5,000 items) in 1,000 gzip NDJSON objects,
built by the processor's own code and put in an S3 bucket of moto's server, run in a separate
process (so it does not share this one's interpreter). Then, each next to the time to merely
list, download and gunzip the same objects (8 threads, as the cache's sync uses):

* ``SELECT event_name, count(*) FROM changes GROUP BY 1``, cold (empty cache: sync downloads
  everything, then DuckDB) and warm (the sync lists and finds nothing new);
* ``as-of`` (the table at the end of the workload, exact values), warm.

With DuckDB's S3 reader installed (``pip install duckdb-ext-httpfs==1.4.4.20260205``, not a
project dependency), the same query through it, for the reader comparison in the README.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ddbstream.core.audit import build_audit_objects, event_to_line
from ddbstream.core.decode import decode_record
from ddbstream.local import clients, emulator
from ddbstream.testing.records import stream_record

OBJECTS = 1_000
PER_OBJECT = 100
ITEMS = 5_000
T0 = 1_764_064_800  # 2025-11-25T10:00:00Z
BUCKET = "bench-audit"
PREFIX = "audit-logs/"
QUERY = "SELECT event_name, count(*) FROM changes GROUP BY 1"


def workload() -> list[Any]:
    """1,000 batches of 100 changes: each item inserted, then updated, some deleted."""
    objs: list[Any] = []
    state: dict[int, dict[str, Any]] = {}
    seq = 0
    for b in range(OBJECTS):
        recs = []
        for j in range(PER_OBJECT):
            seq += 1
            i = (b * PER_OBJECT + j) % ITEMS
            keys = {"UserId": f"user-{i % 97:04d}", "ActivityId": f"act-{i:06d}"}
            old = state.get(i)
            new = {
                **keys,
                "ActivityType": ["LOGIN", "VIEW", "PURCHASE"][seq % 3],
                "Version": seq,
                "Amount": Decimal(f"{seq % 1000}.{seq % 97:02d}"),
                "Tags": {"web", f"cohort-{i % 5}"},
            }
            if old is None:
                name, img_new, img_old = "INSERT", new, None
            elif seq % 10 == 0:
                name, img_new, img_old = "REMOVE", None, old
            else:
                name, img_new, img_old = "MODIFY", new, old
            state[i] = img_new  # type: ignore[assignment]
            if img_new is None:
                del state[i]
            ts = T0 + b * 36  # 100 objects an hour: 10 hours
            r = stream_record(name, keys, img_new, img_old, seq=seq, ts=ts)
            r["eventID"] = f"ev-{seq}"
            recs.append(r)
        evs = [decode_record(r) for r in recs]
        objs += build_audit_objects(PREFIX, [(k, e, event_to_line(e)) for k, e in enumerate(evs)])
    return objs


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    port = emulator.free_port()
    code = (
        "import time; from ddbstream.local import emulator; "
        f"emulator.start(port={port}); print('up', flush=True); time.sleep(3600)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"up"
    return proc, f"http://127.0.0.1:{port}"


def baseline(s3: Any) -> float:
    """List, download and gunzip every object (8 threads)."""
    t = time.perf_counter()
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX)
        for o in page.get("Contents", [])
    ]

    def get(k: str) -> int:
        return len(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()))

    with ThreadPoolExecutor(8) as pool:
        sum(pool.map(get, keys))
    return time.perf_counter() - t


def timed_query(s3: Any, root: Path) -> tuple[float, list[Any]]:
    from ddbstream.ops.audit import views
    from ddbstream.ops.audit.store import AuditCache

    t = time.perf_counter()
    cache = AuditCache(s3, BUCKET, PREFIX, root)
    cache.sync()
    _, rows = views.run_query(views.connect(cache), QUERY)
    return time.perf_counter() - t, sorted(rows)


def timed_as_of(s3: Any, root: Path) -> tuple[float, int]:
    from ddbstream.ops.audit.asof import as_of
    from ddbstream.ops.audit.store import AuditCache

    t = time.perf_counter()
    cache = AuditCache(s3, BUCKET, PREFIX, root)
    cache.sync()
    lines = (line for o in cache.objects() for line in cache.read_lines(o))
    snap = as_of(lines, "UserActivities", datetime.now(UTC))
    items = snap.typed_items()
    return time.perf_counter() - t, len(items)


def httpfs_query(endpoint: str) -> float | None:
    try:
        import duckdb_ext  # type: ignore[import-not-found]
    except ImportError:
        return None
    import duckdb

    ext = Path(duckdb_ext.__path__[0]) / "extensions" / f"v{duckdb.__version__}" / "linux_amd64"
    con = duckdb.connect()
    con.execute(f"LOAD '{ext / 'httpfs.duckdb_extension'}'")
    host = endpoint.removeprefix("http://")
    con.execute(
        f"CREATE SECRET (TYPE s3, KEY_ID '{clients.ACCESS_KEY}', SECRET '{clients.SECRET_KEY}', "
        f"REGION '{clients.REGION}', ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)"
    )
    t = time.perf_counter()
    con.execute(
        f"SELECT event_name, count(*) FROM (SELECT DISTINCT ON (event_id) * FROM read_json("
        f"'s3://{BUCKET}/{PREFIX}**/*.ndjson.gz', format='newline_delimited', "
        "columns={'event_id': 'VARCHAR', 'event_name': 'VARCHAR'})) GROUP BY 1"
    ).fetchall()
    return time.perf_counter() - t


def main() -> None:
    print("Audit log queries: 100,000 changes in 1,000 objects (moto S3 in another process)")
    t = time.perf_counter()
    objs = workload()
    print(
        f"  built {len(objs)} objects, {sum(len(o.body) for o in objs) / 1e6:.1f} MB gzip, "
        f"in {time.perf_counter() - t:.1f}s"
    )
    proc, endpoint = start_emulator()
    try:
        s3 = clients.client("s3", endpoint)
        s3.create_bucket(Bucket=BUCKET)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda o: s3.put_object(Bucket=BUCKET, Key=o.key, Body=o.body), objs))
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            base = min(baseline(s3) for _ in range(3))
            cold, rows = timed_query(s3, root / "cold")
            warm = min(timed_query(s3, root / "cold")[0] for _ in range(3))
            asof_s, n_items = min(timed_as_of(s3, root / "cold") for _ in range(2))
            print(f"  baseline: list + download + gunzip every object     {base:6.2f} s")
            print(f"  {QUERY}")
            print(
                f"    cold (sync downloads all, then DuckDB)           {cold:6.2f} s  "
                f"{cold / base:5.2f}x baseline"
            )
            print(
                f"    warm (sync lists, nothing new, then DuckDB)      {warm:6.2f} s  "
                f"{warm / base:5.2f}x baseline"
            )
            print(f"    result: {rows}")
            print(
                f"  as-of now, warm ({n_items} items rebuilt, typed)       {asof_s:6.2f} s  "
                f"{asof_s / base:5.2f}x baseline"
            )
            h = httpfs_query(endpoint)
            if h is not None:
                print(
                    f"  DuckDB's S3 reader (httpfs), same query, every run  {h:6.2f} s  "
                    f"{h / base:5.2f}x baseline"
                )
            print(f"  ({os.cpu_count()} CPUs; figures move with the machine's load)")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    from ddbstream.cli import Parser

    Parser(
        prog="bench/audit_bench.py",
        description="Benchmark of `ddbstream audit` (make bench): 100,000 changes in 1,000 "
        "objects on moto's S3; figures next to a list+download+gunzip baseline measured in the "
        "same run, nothing asserted. No options.",
    ).parse_args()
    main()
