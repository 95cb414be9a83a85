"""The ``ddbstream audit`` verbs: query, history, as-of, tail (``cmd_*``, run by the CLI)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ddbstream.core.jsonenc import dumps
from ddbstream.errors import UserError
from ddbstream.ops.audit.store import AuditCache, Scope, default_cache_dir, stderr_progress


def open_cache(args: argparse.Namespace) -> tuple[Any, AuditCache]:
    """The deployment of the target flags and its audit cache (``--cache-dir`` or default)."""
    from ddbstream.ops import target

    d = target.resolve(args)
    bucket, prefix = d.bucket, d.audit_prefix
    root = Path(args.cache_dir) if getattr(args, "cache_dir", None) else None
    if root is None:
        root = default_cache_dir(d.state_dir if d.is_local else None, bucket)
    return d, AuditCache(d.client("s3"), bucket, prefix, root)


def _sync(cache: AuditCache, scope: Scope, quiet: bool = False) -> None:
    from botocore.exceptions import ClientError

    try:
        stats = cache.sync(scope, progress=None if quiet else stderr_progress("audit objects"))
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise UserError(
            f"reading s3://{cache.bucket}/{cache.prefix}: {err.get('Code', '')} "
            f"{err.get('Message', '')}".strip()
        ) from None
    if stats.downloaded and not quiet:
        print(
            f"audit cache: {stats.downloaded} new object(s), "
            f"{stats.downloaded_bytes / 1e6:.1f} MB, in {cache.root}",
            file=sys.stderr,
        )


def _scope_args(args: argparse.Namespace) -> tuple[Scope, datetime | None, datetime | None]:
    from ddbstream.ops.audit.items import parse_time

    since = parse_time(args.since, "--since") if getattr(args, "since", None) else None
    until = parse_time(args.until, "--until") if getattr(args, "until", None) else None
    if since and until and since > until:
        raise UserError(f"--since {args.since} is after --until {args.until}")
    tables = tuple(args.table) if getattr(args, "table", None) else None
    return Scope(tables, since, until), since, until


def _fmt(args: argparse.Namespace, default: str) -> str:
    return str(getattr(args, "format", None) or default)


def cmd_query(args: argparse.Namespace) -> int:
    from ddbstream.ops.audit import output, views

    scope, since, until = _scope_args(args)
    _, cache = open_cache(args)
    _sync(cache, scope, quiet=args.quiet)
    cond = views.partition_condition(scope.tables, since, until)
    con = views.connect(cache, cond)
    names, rows = views.run_query(con, args.sql)
    json_cols = {"keys", "new_image", "old_image", "attribute_types", "undecodable_attributes"}
    text = output.render(_fmt(args, "table"), names, rows, json_cols)
    if text:
        print(text)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from ddbstream.ops.audit import history as h
    from ddbstream.ops.audit.items import read_changes

    words = list(args.key)
    table_arg = words.pop(0) if words and "=" not in words[0] else None
    wanted = h.parse_key_args(words)
    d, cache = open_cache(args)
    table = table_arg or d.table_name
    _sync(cache, Scope((table,)), quiet=args.quiet)
    objs = [o for o in cache.objects() if o.table == table]
    steps = h.history(read_changes(cache, objs, h.prefilter_for(wanted)), table, wanted)
    if not steps:
        keys = " ".join(words)
        raise UserError(f"no change of an item with {keys} in the audit log of {table}")
    if _fmt(args, "text") == "json":
        for ss in steps.values():
            for s in ss:
                print(dumps(s.to_json()))
    else:
        print(h.render(steps))
    return 0


def cmd_as_of(args: argparse.Namespace) -> int:
    from ddbstream.ops.audit.asof import as_of
    from ddbstream.ops.audit.items import parse_time

    at = parse_time(args.timestamp, "TIMESTAMP")
    d, cache = open_cache(args)
    table = args.table or d.table_name
    _sync(cache, Scope((table,), None, at), quiet=args.quiet)
    objs = [o for o in cache.objects() if o.table == table and o.hour <= at]
    snap = as_of((line for o in objs for line in cache.read_lines(o)), table, at)
    if snap.unknown:
        raise UserError(
            f"{len(snap.unknown)} item(s) of {table} cannot be rebuilt: their last change before "
            f"{at.isoformat()} carries no new image (the stream view type must be NEW_IMAGE or "
            "NEW_AND_OLD_IMAGES)"
        )
    fmt = _fmt(args, "json")
    if fmt == "dynamodb-json":
        for item in snap.typed_items():
            print(dumps(item))
    elif fmt == "table":
        from ddbstream.ops.audit import output

        items = snap.plain_items()
        names: list[str] = []
        for it in items:
            names += [k for k in it if k not in names]
        rows = [tuple(it.get(n) for n in names) for it in items]
        print(output.table(names, rows))
    else:
        for item in snap.plain_items():
            print(dumps(item))
    for key, names in snap.partial.items():
        print(
            f"warning: item {key} lacks attributes that did not decode "
            f"({', '.join(names)}; the raw record is in the quarantine)",
            file=sys.stderr,
        )
    print(
        f"{len(snap.items)} item(s) of {table} as of {at.isoformat()} "
        f"(from {snap.changes_read} logged change(s))",
        file=sys.stderr,
    )
    return 0


def _tail_line(c: Any, fmt: str) -> str:
    if fmt == "json":
        return dumps(c.doc)
    what = ""
    if c.event_name == "MODIFY":
        parts = []
        for label, field in (("+", "added_attributes"), ("-", "removed_attributes")):
            parts += [f"{label}{n}" for n in c.doc.get(field) or []]
        parts += [f"~{n}" for n in c.doc.get("changed_attributes") or []]
        what = "  " + " ".join(parts) if parts else ""
    return (
        f"{c.doc['event_time']}  {c.event_name:<6}  {c.table}  {dumps(c.keys)}  "
        f"seq {c.sequence_number}{what}"
    )


def cmd_tail(args: argparse.Namespace) -> int:
    from ddbstream.ops.audit.items import first_copies, read_changes

    _, cache = open_cache(args)
    tables = tuple(args.table) if args.table else None
    fmt = _fmt(args, "text")
    # objects by version: a retry from an object's first change rewrites it, with more changes
    # when more records followed this time
    seen_objects: set[tuple[str, int, str]] = set()
    seen_events: set[str] = set()
    printed = 0

    def version(o: Any) -> tuple[str, int, str]:
        return (o.key, o.size, o.etag)

    def fresh_changes(objs: list[Any]) -> list[Any]:
        """Changes of objects not seen before, each event once, in time then stream order."""
        seen_objects.update(version(o) for o in objs)
        out = [c for c in first_copies(read_changes(cache, objs)) if c.event_id not in seen_events]
        seen_events.update(c.event_id for c in out)
        out.sort(key=lambda c: (c.doc["event_time"], c.order))
        return out

    _sync(cache, Scope(tables), quiet=args.quiet)
    objs = [o for o in cache.objects() if tables is None or o.table in tables]
    objs.sort(key=lambda o: (o.hour, o.last_modified))
    # The last N changes are in the newest objects: read back from the end, whole hours.
    chosen: list[Any] = []
    lines = 0
    for o in reversed(objs):
        if chosen and lines >= args.lines and o.hour < chosen[-1].hour:
            break
        chosen.append(o)
        lines += len(cache.read_lines(o))
    seen_objects.update(version(o) for o in objs)
    initial = fresh_changes(chosen[::-1])
    for c in initial[-args.lines :] if args.lines else []:
        print(_tail_line(c, fmt), flush=True)
    if not args.follow:
        return 0
    print(
        f"audit tail: following s3://{cache.bucket}/{cache.prefix} every {args.interval:g}s "
        "(Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    try:
        while args.stop_after is None or printed < args.stop_after:
            time.sleep(args.interval)
            # the last two hours' partitions (an hour ahead for clock skew): listed by day
            now = datetime.now(UTC)
            _sync(cache, Scope(tables, now - timedelta(hours=2), now + timedelta(hours=1)), True)
            objs = [
                o
                for o in cache.objects()
                if (tables is None or o.table in tables) and version(o) not in seen_objects
            ]
            for c in fresh_changes(objs):
                print(_tail_line(c, fmt), flush=True)
                printed += 1
                if args.stop_after is not None and printed >= args.stop_after:
                    break
    except KeyboardInterrupt:
        pass
    return 0
