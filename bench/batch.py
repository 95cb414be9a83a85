"""The benchmark's batch: a shard's worth of UserActivities changes, built once per run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ddbstream.testing.records import stream_record

N = 1_000
T0 = 1_764_064_800
ACTIVITY_TYPES = ["LOGIN", "LOGOUT", "PURCHASE", "VIEW", "ERROR_TEST"]


def make_batch(n: int = N) -> list[dict[str, Any]]:
    """A shard's batch of UserActivities changes: 50% INSERT, 30% MODIFY, 20% REMOVE."""
    records = []
    for i in range(n):
        keys = {"UserId": f"user-{i % 97:04d}", "ActivityId": f"act-{i:06d}"}
        item = {
            **keys,
            "ActivityType": ACTIVITY_TYPES[i % len(ACTIVITY_TYPES)],
            "Timestamp": T0 + i // 4,
            "IPAddress": f"10.0.{i % 256}.{(i * 7) % 256}",
            "UserAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "SessionSeconds": Decimal(f"{(i * 37) % 5000}.{i % 10 + 1}"),
            "Tags": {"web", f"cohort-{i % 5}"},
            "Device": {"os": "linux", "version": i % 12, "mobile": i % 3 == 0},
        }
        kind = i % 10
        if kind < 5:
            rec = stream_record("INSERT", keys, item, None, seq=i + 1, ts=T0 + i // 4)
        elif kind < 8:
            old = {**item, "ActivityType": "LOGIN", "Timestamp": T0 - 60}
            rec = stream_record("MODIFY", keys, item, old, seq=i + 1, ts=T0 + i // 4)
        else:
            rec = stream_record("REMOVE", keys, None, item, seq=i + 1, ts=T0 + i // 4)
        records.append(rec)
    return records
