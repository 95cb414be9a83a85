"""Benchmark of the processor's core (``make bench``). Figures are printed, never asserted.

1. Changes per second on a 1,000-change batch, next to boto3's ``TypeDeserializer`` +
   ``json.dumps`` over the same records (decode only) in the same run:

   * the audit path as the issue defines the target: decode, MODIFY diff, rule evaluation,
     NDJSON lines, gzip + content hash into audit objects (in-memory sink). Target: ratio >= 1.0;
   * the whole batch, ``process_batch`` as the handler runs it: the above plus a notification
     message for every change (the default rules notify on everything), PublishBatch chunking
     and per-record outcomes, with in-memory sinks.
2. AWS calls per 1,000 changes (S3 PUTs, SNS calls), counted by the in-memory sinks, next to the
   seed's per-change design (one PutObject and one Publish per change: 2,000).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import coldstart
import cost
import e2e
import latency
from batch import N, make_batch
from boto3.dynamodb.types import TypeDeserializer

from ddbstream.cli import Parser, positive_float, positive_int
from ddbstream.core.audit import build_audit_objects, event_to_line
from ddbstream.core.decode import decode_record
from ddbstream.core.pipeline import PipelineConfig, process_batch
from ddbstream.core.rules import DEFAULT_RULES
from ddbstream.testing.memory import MemoryAudit, MemoryNotifier, MemoryQuarantine


def baseline(records: list[dict[str, Any]]) -> int:
    """boto3's TypeDeserializer + json.dumps: decode only."""
    td = TypeDeserializer()
    total = 0
    for r in records:
        ddb = r["dynamodb"]
        doc = {
            "eventName": r["eventName"],
            "Keys": {k: td.deserialize(v) for k, v in ddb["Keys"].items()},
            "NewImage": {k: td.deserialize(v) for k, v in ddb.get("NewImage", {}).items()},
            "OldImage": {k: td.deserialize(v) for k, v in ddb.get("OldImage", {}).items()},
        }
        total += len(json.dumps(doc, default=str))
    return total


def pipeline(records: list[dict[str, Any]]) -> tuple[MemoryAudit, MemoryNotifier]:
    audit, notifier, quarantine = MemoryAudit(), MemoryNotifier(), MemoryQuarantine()
    result = process_batch(
        records,
        config=PipelineConfig(),
        audit=audit,
        notifier=notifier,
        quarantine=quarantine,
    )
    assert not result.failures and result.changes == len(records)
    return audit, notifier


def audit_path(records: list[dict[str, Any]]) -> MemoryAudit:
    """Decode, diff (inside decode), rules, NDJSON, gzip: the core functions, composed."""
    rules = DEFAULT_RULES
    items = []
    matched = 0
    for i, r in enumerate(records):
        ev = decode_record(r)
        if rules.match(ev):
            matched += 1
        items.append((i, ev, event_to_line(ev)))
    audit = MemoryAudit()
    for obj in build_audit_objects("audit-logs/", items):
        audit.write(obj)
    assert matched == len(records)
    return audit


def decode_only(records: list[dict[str, Any]]) -> int:
    return sum(1 for r in records if decode_record(r))


def core_section(runs: int) -> None:
    records = make_batch()
    # warm up (caches, imports)
    baseline(records)
    pipeline(records)
    audit_path(records)

    # per-stage inputs for the breakdown line: lines from decoded events, objects from lines
    events = [decode_record(r) for r in records]
    items = [(i, ev, event_to_line(ev)) for i, ev in enumerate(events)]

    def lines_only(_: list[dict[str, Any]]) -> int:
        return sum(len(event_to_line(ev)) for ev in events)

    def objects_only(_: list[dict[str, Any]]) -> int:
        return len(build_audit_objects("audit-logs/", items))

    # interleave the measurements so that a busy machine affects all of them alike
    rates: dict[str, list[float]] = {
        "base": [],
        "audit": [],
        "pipe": [],
        "dec": [],
        "lines": [],
        "objs": [],
    }
    fns = {
        "base": baseline,
        "audit": audit_path,
        "pipe": pipeline,
        "dec": decode_only,
        "lines": lines_only,
        "objs": objects_only,
    }
    for _ in range(runs):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn(records)
            rates[name].append(len(records) / (time.perf_counter() - t))
    base_best, base_med = max(rates["base"]), statistics.median(rates["base"])
    audit_best, audit_med = max(rates["audit"]), statistics.median(rates["audit"])
    pipe_best, pipe_med = max(rates["pipe"]), statistics.median(rates["pipe"])
    dec_best, dec_med = max(rates["dec"]), statistics.median(rates["dec"])

    audit, notifier = pipeline(records)
    puts = audit.calls
    sns_calls = notifier.calls
    raw = sum(len(o.body) for o in audit.objects.values())
    lines = sum(o.line_count for o in audit.objects.values())

    print(f"Core CPU, {N:,}-change batch, in-memory sinks")
    rows = [
        ("A  audit path: decode, diff, rules, NDJSON, gzip", audit_best, audit_med),
        ("B  whole batch: A + a notification message per change", pipe_best, pipe_med),
        ("   decode only (incl. MODIFY diff)", dec_best, dec_med),
        ("   baseline: boto3 TypeDeserializer + json.dumps", base_best, base_med),
    ]
    print(f"Throughput, changes per second (best / median of {runs} interleaved runs)")
    for label, best, med in rows:
        print(f"  {label:<56} {best:>9,.0f} / {med:>9,.0f}")
    print(
        f"  ratio A / baseline: {audit_best / base_best:.2f} best, "
        f"{audit_med / base_med:.2f} median   (target >= 1.0)"
    )
    print(
        f"  ratio B / baseline: {pipe_best / base_best:.2f} best, {pipe_med / base_med:.2f} median"
    )
    us = {k: 1e6 / max(v) for k, v in rates.items()}
    print(
        f"  A by stage, us per change (best, each alone): decode {us['dec']:.1f}, "
        f"lines {us['lines']:.1f}, objects (gzip, sha256) {us['objs']:.1f}; "
        f"A {us['audit']:.1f}, baseline {us['base']:.1f}"
    )
    print()
    print(f"AWS calls per {N:,} changes")
    print(f"  ddbstream: {puts} S3 PutObject + {sns_calls} SNS PublishBatch = {puts + sns_calls}")
    print(f"  seed (per change: PutObject + Publish):  {N:,} + {N:,} = {2 * N:,}")
    print(f"  reduction: {2 * N / (puts + sns_calls):.1f}x fewer calls")
    print()
    print(
        f"Audit log: {lines} lines in {len(audit.objects)} object(s), {raw:,} bytes gzip "
        f"({raw / lines:.0f} bytes per change)"
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(x.split(":", 1)[1].strip() for x in f if x.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, load average {load:.1f}"


def non_negative_float(text: str) -> float:
    """An argparse type: a latency in ms, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not 0 or more")
    return value


def lambda_memory(text: str) -> int:
    """An argparse type: a Lambda function's memory, 128-10240 MB (what Lambda accepts)."""
    value = positive_int(text)
    if not 128 <= value <= 10240:
        raise argparse.ArgumentTypeError(f"{text} is not a Lambda memory size (128-10240 MB)")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = Parser(
        prog="bench/run.py",
        description="ddbstream's benchmark (make bench): figures next to baselines measured in "
        "the same run; nothing is asserted on time.",
    )
    ap.add_argument("--runs", type=positive_int, default=15, help="core CPU runs (default 15)")
    ap.add_argument(
        "--latency-runs",
        type=positive_int,
        default=5,
        help="latency-model runs per batch size (default 5)",
    )
    ap.add_argument(
        "--s3-ms",
        type=non_negative_float,
        default=25.0,
        help="modelled S3 PutObject latency, ms (default 25)",
    )
    ap.add_argument(
        "--sns-ms",
        type=non_negative_float,
        default=15.0,
        help="modelled SNS Publish/PublishBatch latency, ms (default 15)",
    )
    ap.add_argument(
        "--batch-size", type=positive_int, default=100, help="for the cost model (default 100)"
    )
    ap.add_argument(
        "--memory-mb", type=lambda_memory, default=256, help="for the cost model (default 256)"
    )
    ap.add_argument(
        "--seed-full",
        action="store_true",
        help="run the seed-style handler on the 1,000-change batch too (40 s+ per run)",
    )
    ap.add_argument(
        "--only",
        choices=["core", "latency", "cost", "coldstart", "e2e"],
        action="append",
        help="run only these sections (repeatable; cost implies latency; e2e, on the local "
        "stack, runs only when named: make bench-e2e)",
    )
    ap.add_argument(
        "--state-dir",
        type=Path,
        help="e2e: a running local stack to use instead of starting one (its function's code is "
        "swapped for the seed-style drain and put back)",
    )
    ap.add_argument("--e2e-rate", type=positive_float, default=100.0, help="e2e: puts per second")
    ap.add_argument(
        "--e2e-seconds",
        type=positive_float,
        default=60.0,
        help="e2e: seconds of puts measured (default 60: 6,000 changes at 100/s, so that the "
        "p99 rests on 60 changes, not on one slow batch)",
    )
    ap.add_argument(
        "--e2e-warmup",
        type=positive_float,
        default=5.0,
        help="e2e: seconds of puts before them, at the same rate, reported apart (default 5)",
    )
    ap.add_argument(
        "--e2e-no-profile",
        action="store_true",
        help="e2e: skip the 20 s profiled with py-spy after the timed puts",
    )
    ap.add_argument(
        "--e2e-dump",
        type=Path,
        help="e2e: write each change's put and audit times (JSON) to this file",
    )
    ap.add_argument("--backlog", type=positive_int, default=1000, help="e2e: changes to drain")
    args = ap.parse_args(argv)
    only = set(args.only or ["core", "latency", "cost", "coldstart"])
    print(f"ddbstream bench · Python {platform.python_version()} · {machine()}")
    print()
    if "core" in only:
        core_section(args.runs)
        print()
    lat = None
    if only & {"latency", "cost"}:
        sizes = tuple(sorted({100, 1000, args.batch_size}))
        lat = latency.section(args.s3_ms, args.sns_ms, args.latency_runs, sizes, args.seed_full)
        print()
    if "cost" in only and lat is not None:
        cost.section(lat, args.batch_size, args.memory_mb)
        print()
    if "coldstart" in only:
        coldstart.section(args.s3_ms, args.sns_ms)
        print()
    if args.only and "e2e" in only:
        e2e.section(
            args.state_dir,
            args.e2e_rate,
            args.e2e_seconds,
            args.backlog,
            warmup=args.e2e_warmup,
            dump=args.e2e_dump,
            profile=not args.e2e_no_profile,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
