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
