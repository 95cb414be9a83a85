"""``ddbstream quarantine list`` / ``replay``: poison records back into the pipeline.

The function writes a record it cannot decode to ``{QUARANTINE_PREFIX}table=T/{hash}.json`` in
its bucket: ``{"error", "sequence_number", "event_source_arn", "record"}`` (see
:func:`ddbstream.core.pipeline.build_quarantine_object`) and goes on. Replay runs the kept
records through the same pipeline (the installed ddbstream's, with the deployed function's
configuration, as :func:`ddbstream.ops.dlq.load_pipeline` builds it) after a fix to the
processor, and removes each quarantine object only once its change landed (audit object
written, notification sent). A record that still does not decode is reported and kept, or,
with ``skip=True``, removed on purpose (the operator gives it up; it is printed with its error).
Replayed notifications carry ``replayed`` = ``"true"`` like those of ``dlq replay``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ddbstream.errors import UserError
from ddbstream.ops.dlq import EXIT_KEPT, Deployment, Progress, load_pipeline

#: Records run through the pipeline per call (as a batch of that size would be).
BATCH = 100


@dataclass
class Quarantined:
    key: str
    size: int
    modified: float
    table: str
    error: str | None = None
    sequence_number: str | None = None
    event_source_arn: str | None = None
    record: Any = None
    problem: str | None = None  # the object is not a quarantine object

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("record")
        return d


def _location(deployment: Deployment) -> tuple[str, str, str]:
    """(function name, bucket, quarantine prefix) from the deployed function's environment
    (the stack's outputs when the function cannot be read)."""
    fn = str(deployment.outputs.get("lambda_function_name") or "")
    env: dict[str, str] = {}
    if fn:
        conf = deployment.client("lambda").get_function_configuration(FunctionName=fn)
        env = dict((conf.get("Environment") or {}).get("Variables") or {})
    bucket = env.get("S3_BUCKET_NAME") or deployment.outputs.get("s3_bucket_name")
    if not bucket:
        raise UserError("cannot tell the quarantine's bucket: no S3_BUCKET_NAME, no s3_bucket_name")
    prefix = env.get("QUARANTINE_PREFIX", "quarantine/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return fn, str(bucket), prefix


def _parse(key: str, size: int, modified: float, body: bytes) -> Quarantined:
    table = key.split("table=", 1)[1].split("/", 1)[0] if "table=" in key else "?"
    q = Quarantined(key=key, size=size, modified=modified, table=table)
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        q.problem = "not JSON"
        return q
    if not isinstance(doc, dict) or "record" not in doc or "error" not in doc:
        q.problem = "not a quarantine object (no record/error)"
        return q
    q.error = str(doc.get("error"))
    q.sequence_number = doc.get("sequence_number")
    q.event_source_arn = doc.get("event_source_arn")
    q.record = doc["record"]
    return q


def list_quarantined(
    deployment: Deployment, progress: Progress | None = None
) -> tuple[str, list[Quarantined]]:
    """(``s3://bucket/prefix``, every quarantine object with its error)."""
    _, bucket, prefix = _location(deployment)
    s3 = deployment.client("s3")
    objs = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objs.extend(page.get("Contents", []))
    out = []
    for n, o in enumerate(objs, 1):
        body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        out.append(_parse(o["Key"], o["Size"], o["LastModified"].timestamp(), body))
        if progress:
            progress(n, len(objs))
    return f"s3://{bucket}/{prefix}", out


class _Capture:
    """Quarantine sink of a replay: a record that still does not decode is noted, not
    written again (its object is still there)."""

    def __init__(self) -> None:
        self.objects: list[Any] = []

    def write(self, obj: Any) -> None:
        self.objects.append(obj)


@dataclass
class QuarantineResult:
    key: str
    status: str  # replayed | would-replay | still-failing | skipped | failed | unreadable
    detail: str = ""

    @property
    def kept(self) -> bool:
        return self.status in ("still-failing", "failed", "unreadable", "would-replay")


@dataclass
class QuarantineReport:
    location: str
    results: list[QuarantineResult] = field(default_factory=list)
    changes: int = 0
    audit_objects: int = 0
    notifications: int = 0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> int:
        return EXIT_KEPT if any(r.kept for r in self.results) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "results": [dataclasses.asdict(r) | {"kept": r.kept} for r in self.results],
            "changes": self.changes,
            "audit_objects": self.audit_objects,
            "notifications": self.notifications,
            "exit_code": self.exit_code,
        }


def _still_failing(record: dict[str, Any]) -> str | None:
    """Why ``record`` still does not decode whole (None: it does now).

    A *partially* decodable record (keys decode, some image value does not) was audited and
    notified with what decoded when it was quarantined; it is replayed only once it decodes
    whole, so a replay never sends the same partial change again."""
    from ddbstream.core.decode import DecodeError, decode_record

    try:
        ev = decode_record(record)
    except DecodeError as exc:
        return str(exc)
    except Exception as exc:  # the pipeline quarantines these too
        return f"{type(exc).__name__}: {exc}"
    if ev.undecodable:
        return "still partially undecodable: " + "; ".join(
            f"{name} ({why})" for name, why in sorted(ev.undecodable.items())
        )
    return None


def replay(
    deployment: Deployment,
    *,
    keys: Sequence[str] = (),
    limit: int | None = None,
    skip: bool = False,
    dry_run: bool = False,
    notify: bool = True,
    progress: Progress | None = None,
    on_result: Callable[[QuarantineResult], None] | None = None,
) -> QuarantineReport:
    """Re-run quarantined records (see the module docstring)."""
    from ddbstream.core.pipeline import process_batch

    fn, bucket, _ = _location(deployment)
    location, found = list_quarantined(deployment)
    if keys:
        missing = set(keys) - {q.key for q in found}
        if missing:
            raise UserError(f"no quarantine object {', '.join(sorted(missing))} in {location}")
        found = [q for q in found if q.key in set(keys)]
    if limit is not None:
        found = found[:limit]
    report = QuarantineReport(location=location)
    if not found:
        return report
    pipe = load_pipeline(deployment, fn, notify=notify) if fn else None
    if pipe is None:
        raise UserError("the deployment names no function (lambda_function_name)")
    s3 = deployment.client("s3")
    done = 0

    def finish(res: QuarantineResult) -> None:
        nonlocal done
        report.results.append(res)
        if on_result:
            on_result(res)
        done += 1
        if progress:
            progress(done, len(found))

    def delete(q: Quarantined) -> None:
        s3.delete_object(Bucket=bucket, Key=q.key)

    usable = []
    for q in found:
        if q.problem or not isinstance(q.record, dict):
            finish(QuarantineResult(q.key, "unreadable", q.problem or "the record was not JSON"))
            continue
        still = _still_failing(q.record)
        if still is None:
            usable.append(q)
        elif dry_run or not skip:
            finish(QuarantineResult(q.key, "still-failing", f"kept: {still}"))
        else:
            delete(q)
            finish(QuarantineResult(q.key, "skipped", f"given up (--skip): {still}"))
    for start in range(0, len(usable), BATCH):
        chunk = usable[start : start + BATCH]
        if dry_run:
            for q in chunk:
                finish(QuarantineResult(q.key, "would-replay", "decodes now"))
            continue
        capture = _Capture()
        result = process_batch(
            [q.record for q in chunk],
            config=pipe.config,
            audit=pipe.audit,
            notifier=pipe.notifier,
            quarantine=capture,
        )
        report.changes += result.changes
        report.audit_objects += result.audit_objects_written
        report.notifications += result.notifications_sent
        for o in result.outcomes:
            q = chunk[o.index]
            if o.status == "delivered":
                delete(q)
                finish(QuarantineResult(q.key, "replayed", "landed; quarantine object removed"))
            elif o.status == "quarantined" and skip:
                delete(q)
                finish(QuarantineResult(q.key, "skipped", f"given up (--skip): {o.reason}"))
            elif o.status == "quarantined":
                finish(QuarantineResult(q.key, "still-failing", f"kept: {o.reason}"))
            else:
                finish(QuarantineResult(q.key, "failed", f"kept: {o.reason}"))
    return report
