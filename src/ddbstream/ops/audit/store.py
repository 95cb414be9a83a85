"""A local copy of the audit log, kept in step with the bucket through boto3.

An audit object's key names its first change (``…/{sha256 of event id + sequence
number}.ndjson.gz``), and only a retry starting from that change rewrites it (with the same
lines, or more when more records followed this time). So a sync lists the keys in scope
(``ListObjectsV2``), downloads the ones it lacks or whose ETag or size changed since it copied
them (a rewrite), and forgets the ones the bucket no longer has (lifecycle expiry). A warm
query costs one listing per table instead of a GET per object.
Why this and not DuckDB's own S3 reader: see ``docs`` in the README's audit section (measured
there: the S3 reader re-reads every object on every query).

Layout under the cache directory: the objects at their keys (``{prefix}table=T/year=…/``, so
DuckDB reads them with Hive partitioning) and ``manifest.ndjson``, one line per object with the
time S3 says it was first written (``last_modified``), which decides which copy of a retried
change the ``changes`` view keeps. A file lock serialises syncs of one cache.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ddbstream.errors import UserError

MANIFEST = "manifest.ndjson"
DOWNLOAD_THREADS = 8
# {table}/{year}/{month}/{day}/{hour}/{name}: the processor's layout (core/audit.py)
_KEY_RE = re.compile(
    r"table=(?P<table>[^/]+)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/day=(?P<d>\d{2})"
    r"/hour=(?P<h>\d{2})/(?P<name>[^/]+\.ndjson\.gz)"
)
# Listing a table by day prefixes rather than whole is worth it for ranges up to this long.
MAX_DAY_PREFIXES = 62


@dataclass(frozen=True, slots=True)
class AuditObject:
    """One object of the audit log as the cache knows it."""

    key: str
    table: str
    hour: datetime  # the partition's hour, UTC
    last_modified: datetime  # first time the cache saw it written (S3's LastModified)
    size: int
    etag: str = ""  # of the copy held ("" in a manifest written before ETags were kept)

    def to_json(self) -> str:
        return json.dumps(
            {
                "key": self.key,
                "last_modified": self.last_modified.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "size": self.size,
                "etag": self.etag,
            }
        )


@dataclass(frozen=True, slots=True)
class Scope:
    """Which part of the log to sync: some tables (None: all) and an hour range (inclusive)."""

    tables: tuple[str, ...] | None = None
    since: datetime | None = None  # UTC, naive or aware
    until: datetime | None = None

    def hour_in(self, hour: datetime) -> bool:
        if self.since is not None and hour < _utc(self.since).replace(
            minute=0, second=0, microsecond=0
        ):
            return False
        return not (self.until is not None and hour > _utc(self.until))

    def covers(self, obj: AuditObject) -> bool:
        return (self.tables is None or obj.table in self.tables) and self.hour_in(obj.hour)


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_key(prefix: str, key: str) -> tuple[str, datetime] | None:
    """``(table, hour)`` of an audit object's key, or None for a key outside the layout."""
    if not key.startswith(prefix):
        return None
    m = _KEY_RE.fullmatch(key, len(prefix))
    if m is None:
        return None
    try:
        hour = datetime(int(m["y"]), int(m["m"]), int(m["d"]), int(m["h"]), tzinfo=UTC)
    except ValueError:
        return None
    return m["table"], hour


@dataclass
class SyncStats:
    listed: int = 0
    downloaded: int = 0
    downloaded_bytes: int = 0
    removed: int = 0
    list_calls: int = 0


class AuditCache:
    """The cache of one bucket's audit log (``prefix``) in ``root``."""

    def __init__(self, s3: Any, bucket: str, prefix: str, root: Path) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.root = Path(root)

    # --- reading what is cached -------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """The directory that holds the objects (what DuckDB globs)."""
        return self.root / self.prefix

    def path_of(self, key: str) -> Path:
        return self.root / key

    def objects(self) -> list[AuditObject]:
        """The cached objects, from the manifest (oldest write first)."""
        path = self.root / MANIFEST
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            if not line:
                continue
            doc = json.loads(line)
            parsed = parse_key(self.prefix, doc["key"])
            if parsed is None:
                continue
            lm = datetime.strptime(doc["last_modified"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=UTC
            )
            out.append(
                AuditObject(
                    doc["key"], parsed[0], parsed[1], lm, int(doc["size"]), doc.get("etag", "")
                )
            )
        out.sort(key=lambda o: (o.last_modified, o.key))
        return out

    def read_lines(self, obj: AuditObject) -> list[str]:
        """The lines of one cached object (without newlines)."""
        data = gzip.decompress(self.path_of(obj.key).read_bytes()).decode("utf-8")
        return [line for line in data.split("\n") if line]

    # --- syncing ----------------------------------------------------------------------------

    def _list(self, prefix: str, stats: SyncStats) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            kw: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kw["ContinuationToken"] = token
            page = self.s3.list_objects_v2(**kw)
            stats.list_calls += 1
            yield from page.get("Contents", [])
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    def tables(self, stats: SyncStats | None = None) -> list[str]:
        """The tables that have a ``table=T/`` folder under the prefix (one listing)."""
        names: list[str] = []
        token: str | None = None
        while True:
            kw: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix, "Delimiter": "/"}
            if token:
                kw["ContinuationToken"] = token
            page = self.s3.list_objects_v2(**kw)
            if stats is not None:
                stats.list_calls += 1
            for cp in page.get("CommonPrefixes", []):
                part = cp["Prefix"][len(self.prefix) :].rstrip("/")
                if part.startswith("table="):
                    names.append(part[len("table=") :])
            if not page.get("IsTruncated"):
                return names
            token = page.get("NextContinuationToken")

    def _prefixes(self, scope: Scope, stats: SyncStats) -> list[str]:
        """The key prefixes to list for ``scope``: per table, per day when the range is short."""
        if scope.tables is None and scope.since is None:
            return [self.prefix]
        tables = list(scope.tables) if scope.tables is not None else self.tables(stats)
        out = []
        for t in tables:
            base = f"{self.prefix}table={t}/"
            if scope.since is not None and scope.until is not None:
                first, last = _utc(scope.since).date(), _utc(scope.until).date()
                days = (last - first).days + 1
                if 0 < days <= MAX_DAY_PREFIXES:
                    for i in range(days):
                        d = first + timedelta(days=i)
                        out.append(f"{base}year={d.year:04d}/month={d.month:02d}/day={d.day:02d}/")
                    continue
            out.append(base)
        return out

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def sync(
        self, scope: Scope = Scope(), progress: Callable[[int, int], None] | None = None
    ) -> SyncStats:
        """Bring the cache in step with the bucket for ``scope``; returns what it did.

        ``progress(done, total)`` is called as objects download."""
        stats = SyncStats()
        with self._locked():
            known = {o.key: o for o in self.objects()}
            listed: dict[str, AuditObject] = {}
            for prefix in self._prefixes(scope, stats):
                for item in self._list(prefix, stats):
                    key = item["Key"]
                    parsed = parse_key(self.prefix, key)
                    if parsed is None or not _safe_key(key):
                        continue
                    obj = AuditObject(
                        key,
                        parsed[0],
                        parsed[1],
                        _utc(item["LastModified"]),
                        int(item["Size"]),
                        str(item.get("ETag") or ""),
                    )
                    if scope.covers(obj):
                        listed[key] = obj
            stats.listed = len(listed)
            missing = [
                o
                for k, o in listed.items()
                if k not in known or not self.path_of(k).exists() or _rewritten(known[k], o)
            ]
            self._download(missing, stats, progress)
            # Keep the first write time seen (a retry rewrites its object later, with the same
            # lines or more), with the copy's size and ETag; forget what the bucket no longer
            # has in scope.
            merged = {k: o for k, o in known.items() if not scope.covers(o) or k in listed}
            for k, o in listed.items():
                old = known.get(k)
                merged[k] = o if old is None else replace(o, last_modified=old.last_modified)
            for k in known:
                if k not in merged:
                    self.path_of(k).unlink(missing_ok=True)
                    stats.removed += 1
            self._write_manifest(merged.values())
        return stats

    def _download(
        self,
        objs: list[AuditObject],
        stats: SyncStats,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        if not objs:
            return

        def fetch(obj: AuditObject) -> int:
            body = self.s3.get_object(Bucket=self.bucket, Key=obj.key)["Body"].read()
            path = self.path_of(obj.key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(body)
            os.replace(tmp, path)
            return len(body)

        with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
            for n in pool.map(fetch, objs):
                stats.downloaded += 1
                stats.downloaded_bytes += n
                if progress is not None:
                    progress(stats.downloaded, len(objs))

    def _write_manifest(self, objs: Iterable[AuditObject]) -> None:
        path = self.root / MANIFEST
        tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
        ordered = sorted(objs, key=lambda o: (o.last_modified, o.key))
        tmp.write_text("".join(o.to_json() + "\n" for o in ordered))
        os.replace(tmp, path)


def _rewritten(known: AuditObject, listed: AuditObject) -> bool:
    """The bucket's object is not the copy held (a retry rewrote it)."""
    return known.size != listed.size or bool(known.etag and known.etag != listed.etag)


def _safe_key(key: str) -> bool:
    """A key that stays inside the cache directory as a path."""
    return not key.startswith("/") and ".." not in key.split("/") and "\x00" not in key


def default_cache_dir(state_dir: Path | None, bucket: str) -> Path:
    """Where a deployment's cache lives: the local stack's state directory, else the user's
    cache directory (``$XDG_CACHE_HOME/ddbstream/audit/BUCKET``)."""
    if state_dir is not None:
        return Path(state_dir) / "audit-cache" / bucket
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ddbstream" / "audit" / bucket


def stderr_progress(label: str) -> Callable[[int, int], None]:
    """A progress callback printing ``label: done/total`` to stderr (one updating line on a
    terminal, a line every 10% otherwise)."""
    tty = sys.stderr.isatty()
    last = [-1]

    def show(done: int, total: int) -> None:
        if total < 20:
            return
        if tty:
            end = "\n" if done == total else ""
            print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)
            return
        tenth = done * 10 // total
        if tenth != last[0]:
            last[0] = tenth
            print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)

    return show


def require_bucket(s3: Any, bucket: str) -> None:
    """A UserError when the bucket is not there (instead of botocore's NoSuchBucket)."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise UserError(f"audit bucket {bucket}: {code or exc}") from None
