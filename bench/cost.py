"""Requests and dollars per million changes, from the latency model's calls and durations.

Prices: AWS list prices for us-east-1, on-demand, free tiers left out, as published on
aws.amazon.com/lambda/pricing, /s3/pricing and /sns/pricing and in AWS's "How AWS Pricing
Works" (read 2026-11-27). SNS bills every 64 KiB chunk of a request's payload as one request,
so a PublishBatch of 10 small messages is one billed request; deliveries to subscribers are
billed per subscription and message alike for both designs, and left out.
"""

from __future__ import annotations

import math
from typing import Any

from latency import LatencyFigures

PRICES_DATE = "2026-11-27"
S3_PUT_PER_1000 = 0.005  # S3 Standard PUT, COPY, POST, LIST
SNS_PER_MILLION = 0.50  # standard topic requests, per 64 KiB chunk
LAMBDA_PER_MILLION = 0.20  # requests
LAMBDA_GB_SECOND = 0.0000166667  # x86_64 duration
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, a share below


def _billed_sns_requests(records: list[dict[str, Any]]) -> int:
    """64 KiB chunks over the batch's PublishBatch calls, as the pipeline chunks them."""
    from ddbstream.core.notify import chunk_notifications
    from ddbstream.core.pipeline import PipelineConfig, process_batch
    from ddbstream.testing.memory import MemoryAudit, MemoryNotifier, MemoryQuarantine

    result = process_batch(
        records,
        config=PipelineConfig(),
        audit=MemoryAudit(),
        notifier=MemoryNotifier(),
        quarantine=MemoryQuarantine(),
    )
    return sum(
        max(1, math.ceil(sum(n.size() for n in chunk) / 65536))
        for chunk in chunk_notifications(result.notifications)
    )


def section(lat: LatencyFigures, batch_size: int, memory_mb: int) -> None:
    from statistics import median

    from batch import make_batch

    if batch_size not in lat.design:
        print(f"Cost model: no latency-model run at batch size {batch_size}; skipped")
        return
    per_m = 1_000_000
    batches = per_m / batch_size
    d_runs = lat.design[batch_size]
    s_runs = lat.seed[batch_size]
    d_wall = median(r.wall_s for r in d_runs)
    d_cpu = median(r.cpu_s for r in d_runs)
    s_per_change = median(r.wall_s / r.changes for r in s_runs)
    s_cpu_per_change = median(r.cpu_s / r.changes for r in s_runs)
    calls = d_runs[0].calls
    gb = memory_mb / 1024
    slow = FULL_VCPU_MB / memory_mb  # CPU share at this memory size vs one full vCPU

    def row(
        name: str, puts: float, sns: float, duration_s: float, cpu_s: float
    ) -> tuple[str, float, float, float, float, float, float]:
        gbs = batches * duration_s * gb
        gbs_scaled = batches * (duration_s + cpu_s * (slow - 1)) * gb
        dollars = (
            puts / 1000 * S3_PUT_PER_1000
            + sns / 1e6 * SNS_PER_MILLION
            + batches / 1e6 * LAMBDA_PER_MILLION
            + gbs * LAMBDA_GB_SECOND
        )
        scaled = dollars + (gbs_scaled - gbs) * LAMBDA_GB_SECOND
        return name, puts, sns, gbs, gbs_scaled, dollars, scaled

    sns_billed = _billed_sns_requests(make_batch(batch_size)) * batches
    rows = [
        row(
            "ddbstream",
            calls.get("PutObject", 0) * batches,
            sns_billed,
            d_wall,
            d_cpu,
        ),
        row(
            "seed-style",
            per_m,
            per_m,
            s_per_change * batch_size,
            s_cpu_per_change * batch_size,
        ),
    ]
    print(
        f"Cost per million changes at batch size {batch_size}, {memory_mb} MB "
        f"(Terraform defaults), x86, us-east-1 list prices of {PRICES_DATE}: S3 PUT "
        f"${S3_PUT_PER_1000}/1,000, SNS ${SNS_PER_MILLION}/million (64 KiB chunks), Lambda "
        f"${LAMBDA_PER_MILLION}/million + ${LAMBDA_GB_SECOND}/GB-s; "
        f"{batches:,.0f} invocations"
    )
    print(
        f"  {'':<11} {'S3 PUTs':>10} {'SNS billed':>11} {'GB-s':>9} {'$ total':>9}   "
        f"{'GB-s, CPU at ' + str(memory_mb) + ' MB':>20} {'$':>8}"
    )
    for name, puts, sns, gbs, gbs_scaled, dollars, scaled in rows:
        print(
            f"  {name:<11} {puts:>10,.0f} {sns:>11,.0f} {gbs:>9,.1f} {dollars:>9.2f}   "
            f"{gbs_scaled:>20,.1f} {scaled:>8.2f}"
        )
    print(
        f"  ratio seed-style / ddbstream: {rows[1][5] / rows[0][5]:.0f}x "
        f"({rows[1][6] / rows[0][6]:.0f}x with CPU scaled)"
    )
    print(
        f"  GB-s from the latency model's median wall time per batch (this machine's CPU); the "
        f"'CPU at {memory_mb} MB' columns add the CPU seconds x {slow - 1:.1f} (Lambda gives "
        f"{memory_mb}/{FULL_VCPU_MB} of a vCPU): an upper bound for a CPU-bound stretch"
    )
