"""Changes per second per shard lane under the latency model (see ``stub_aws``).

One lane processes one batch at a time (Lambda runs one invocation per shard, or per
parallelization-factor lane, at a time), so its throughput is the batch size divided by the
invocation's wall time. Measured on warm invocations of:

* **ddbstream**: the real ``handler.handle`` (logging included, to a discarded stream) with the
  real S3 and SNS adapters on stubbed clients, default rules (a notification per change);
* **seed-style**: ``seed_handler.process`` (one PutObject and one Publish per change, in order)
  on stubbed clients of the same model.
"""

from __future__ import annotations

import io
import statistics
import time
from dataclasses import dataclass
from typing import Any

import seed_handler
from stub_aws import LatencyModel

from ddbstream import handler
from ddbstream.adapters import aws
from ddbstream.adapters.s3 import S3AuditWriter, S3QuarantineWriter
from ddbstream.adapters.sns import SnsPublisher
from ddbstream.log import logger
from ddbstream.settings import Settings

BUCKET = "bench-audit-bucket"
TOPIC = "arn:aws:sns:us-east-1:123456789012:bench-notifications"


class _Context:
    function_name = "bench-processor"
    memory_limit_in_mb = "256"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-processor"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Run:
    """One measured invocation: wall and CPU seconds, calls by operation."""

    changes: int
    wall_s: float
    cpu_s: float
    calls: dict[str, int]
    max_in_flight: int

    @property
    def rate(self) -> float:
        return self.changes / self.wall_s


def processor(model: LatencyModel, env: dict[str, str] | None = None) -> handler.Processor:
    settings = Settings.from_env({"SNS_TOPIC_ARN": TOPIC, "S3_BUCKET_NAME": BUCKET, **(env or {})})
    s3, sns = model.client("s3", aws.CONFIG), model.client("sns", aws.CONFIG)
    aws.prepare_client(s3)
    aws.prepare_client(sns)
    return handler.Processor(
        settings=settings,
        audit=S3AuditWriter(s3, BUCKET),
        notifier=SnsPublisher(sns, TOPIC),
        quarantine=S3QuarantineWriter(s3, BUCKET),
    )


def _measure(model: LatencyModel, changes: int, fn: Any) -> Run:
    model.reset()
    t, c = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    if model.violations:
        raise AssertionError(f"request shape: {model.violations[:3]}")
    return Run(changes, wall, cpu, dict(model.calls), model.max_in_flight)


def design_runs(
    model: LatencyModel, records: list[dict[str, Any]], runs: int, env: dict[str, str] | None = None
) -> list[Run]:
    proc = processor(model, env)
    event = {"Records": records}
    sink = io.StringIO()
    logger.redirect(sink)
    try:

        def once() -> None:
            sink.seek(0)
            sink.truncate()
            out = handler.handle(event, _Context(), proc)
            if out["batchItemFailures"]:
                errors = [x for x in sink.getvalue().splitlines() if '"level":"ERROR"' in x]
                raise AssertionError(f"failures under the latency model: {errors[:2]}")

        once()  # warm: clients' first-call costs (endpoint resolution, model loading)
        return [_measure(model, len(records), once) for _ in range(runs)]
    finally:
        logger.redirect(None)


def seed_runs(model: LatencyModel, records: list[dict[str, Any]], runs: int) -> list[Run]:
    s3, sns = model.client("s3"), model.client("sns")

    def once() -> None:
        seed_handler.process(records, s3, sns, BUCKET, TOPIC)

    seed_handler.process(records[:2], s3, sns, BUCKET, TOPIC)  # warm
    return [_measure(model, len(records), once) for _ in range(runs)]


def summary(runs: list[Run]) -> tuple[float, float]:
    rates = [r.rate for r in runs]
    return max(rates), statistics.median(rates)


@dataclass
class LatencyFigures:
    """What the latency section measured (the cost model prices it)."""

    s3_ms: float
    sns_ms: float
    design: dict[int, list[Run]]
    seed: dict[int, list[Run]]


def section(
    s3_ms: float, sns_ms: float, runs: int, sizes: tuple[int, ...], seed_full: bool
) -> LatencyFigures:
    from batch import make_batch

    model = LatencyModel(s3_ms, sns_ms)
    design: dict[int, list[Run]] = {}
    seed: dict[int, list[Run]] = {}
    for n in sizes:
        records = make_batch(n)
        design[n] = design_runs(model, records, runs)
        # the seed-style handler's time per change does not depend on the batch size: 1,000
        # changes take 40 s+ per run, so it runs on the first 100 unless --seed-full
        seed_n = n if seed_full or n <= 100 else 100
        seed[n] = seed_runs(model, records[:seed_n], 1 if seed_n > 100 else max(1, runs // 3))
    print(
        f"Latency model: S3 PutObject {s3_ms:g} ms, SNS Publish/PublishBatch {sns_ms:g} ms per "
        "call (stubbed boto3 clients: botocore's serialisation, signing and parsing count)"
    )
    print("  changes/s per shard lane (best / median), warm invocations:")
    print(
        f"  {'batch':>6}  {'ddbstream':>17}  {'seed-style':>15}  {'ratio':>6}  "
        f"{'ddbstream calls':<24} {'CPU ms':>7} {'wall ms':>8}  max in flight"
    )
    for n in sizes:
        d_best, d_med = summary(design[n])
        s_best, s_med = summary(seed[n])
        r = min(design[n], key=lambda x: x.wall_s)
        calls = ", ".join(f"{v} {k}" for k, v in sorted(r.calls.items()))
        seed_note = "" if seed[n][0].changes == n else f" (on {seed[n][0].changes})"
        print(
            f"  {n:>6,}  {d_best:>8,.0f} / {d_med:>6,.0f}  {s_best:>6,.1f} / {s_med:>6,.1f}  "
            f"{d_best / s_best:>5.0f}x  {calls:<24} {r.cpu_s * 1000:>7.0f} {r.wall_s * 1000:>8.0f}"
            f"  {r.max_in_flight}{seed_note}"
        )
    big = max(sizes)
    d_best, _ = summary(design[big])
    s_best, _ = summary(seed[big])
    r = min(design[big], key=lambda x: x.wall_s)
    waits = (
        s3_ms + -(-r.calls.get("PublishBatch", 0) // 10) * sns_ms  # ceil(calls / 10 in flight)
    )
    print(
        f"  target at {big:,}-change batches: >= 2,000 changes/s per lane, about 80x the "
        f"seed-style design: {d_best:,.0f}/s, {d_best / s_best:.0f}x"
    )
    print(
        f"  where the time goes ({big:,} changes, best run): wall {r.wall_s * 1000:.0f} ms = "
        f"modelled waiting on the critical path >= {waits:.0f} ms (1 PUT, then "
        f"{r.calls.get('PublishBatch', 0)} PublishBatch 10 in flight) + CPU not overlapped; "
        f"CPU {r.cpu_s * 1000:.0f} ms ({r.cpu_s / r.changes * 1e6:.0f} us per change, most of "
        "it botocore building and signing PublishBatch requests)"
    )
    s = seed[big][0]
    print(
        f"  seed-style: {s.wall_s / s.changes * 1000:.1f} ms per change = "
        f"{s3_ms + sns_ms:g} ms modelled waiting + {s.cpu_s / s.changes * 1000:.1f} ms CPU"
    )
    return LatencyFigures(s3_ms, sns_ms, design, seed)
