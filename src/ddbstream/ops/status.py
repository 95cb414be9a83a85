"""``ddbstream status``: one screen of how the stream processing is doing.

Everything is read the way an operator reads it on AWS, with the deployment's Terraform
outputs and the usual APIs, so the same command works on the local stack and on a deployment
(``--terraform-dir``):

- per event source mapping (``lambda list-event-source-mappings``): state, last processing
  result, on-failure destination; from CloudWatch, over the last hour, the function's last batch
  (the clock minute of the newest ``AWS/Lambda Invocations`` datapoint), the changes processed
  (the processor's EMF ``Changes``), ``Errors`` and the latest ``IteratorAge``. AWS publishes
  those metrics per function, not per mapping: with several mappings on one function they are
  the function's;
- the DLQ's depth (``sqs get-queue-attributes``), and the objects in the on-failure bucket when
  a mapping sends its failures to S3;
- every alarm of the stack (``cloudwatch describe-alarms``: the ``alarm_names`` output, else the
  alarms on the function, the DLQ or the table) with its state and since when;
- the audit objects written in the last hour (``s3 list-objects-v2`` on the current and the
  previous hour's partitions) and the quarantined records (objects under the function's
  ``QUARANTINE_PREFIX``).

A source that cannot be read (permissions, a throttled call) shows its error in its section;
the rest of the screen still shows.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ddbstream.ops import target

HOUR = timedelta(hours=1)
#: Objects counted at most per listing (the screen says "N+" past it).
LIST_CAP = 10_000


def _section(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # one unreadable source must not hide the others
        name = type(exc).__name__
        msg = str(exc).splitlines()[0] if str(exc) else name
        return {"error": msg if name in msg else f"{name}: {msg}"}


def _metric(
    cw: Any,
    namespace: str,
    name: str,
    dims: dict[str, str],
    stat: str,
    start: datetime,
    end: datetime,
    period: int,
) -> list[tuple[datetime, float]]:
    """(timestamp, value) of one metric (exact dimensions), oldest first."""
    resp = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": period,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
        ],
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
    )
    result = resp["MetricDataResults"][0]
    return sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))


def _count_objects(s3: Any, bucket: str, prefix: str, since: datetime | None = None) -> int:
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if since is None or obj["LastModified"] >= since:
                count += 1
        if count >= LIST_CAP:
            break
    return count


def collect(d: target.Deployment, now: datetime | None = None) -> dict[str, Any]:
    """Everything the screen shows, as plain data (``--json`` prints it)."""
    now = now or datetime.now(UTC)
    start = now - HOUR
    fn = d.function_name
    lam, cw, s3, sqs = d.client("lambda"), d.client("cloudwatch"), d.client("s3"), d.client("sqs")
    env: dict[str, str] = {}

    fn_arn = [fn]

    def function_env() -> dict[str, str]:
        cfg = lam.get_function_configuration(FunctionName=fn)
        fn_arn[0] = cfg.get("FunctionArn") or fn
        return dict((cfg.get("Environment") or {}).get("Variables") or {})

    got_env = _section(function_env)
    if isinstance(got_env, dict) and "error" not in got_env:
        env = got_env
    namespace = env.get("METRICS_NAMESPACE") or "DDBStream"
    dims = {"FunctionName": fn}

    def metrics() -> dict[str, Any]:
        # periods on the clock's minutes, as CloudWatch aligns them (AWS/Lambda metrics have
        # one-minute resolution): the last batch is known to its minute, no closer
        t0 = start.replace(second=0, microsecond=0)
        inv = _metric(cw, "AWS/Lambda", "Invocations", dims, "SampleCount", t0, now, 60)
        errors = _metric(cw, "AWS/Lambda", "Errors", dims, "Sum", t0, now, 3600)
        age = _metric(cw, "AWS/Lambda", "IteratorAge", dims, "Maximum", t0, now, 60)
        changes = _metric(cw, namespace, "Changes", dims, "Sum", t0, now, 3600)
        return {
            "last_batch": inv[-1][0].isoformat() if inv else None,
            "invocations_1h": int(sum(v for _, v in inv)),
            "errors_1h": int(sum(v for _, v in errors)),
            "iterator_age_ms": age[-1][1] if age else None,
            "changes_1h": int(sum(v for _, v in changes)),
        }

    def mappings() -> list[dict[str, Any]]:
        out = []
        # by ARN: AWS takes a name or an ARN, the emulator (moto) only the ARN
        pages = lam.get_paginator("list_event_source_mappings").paginate(FunctionName=fn_arn[0])
        for page in pages:
            for m in page.get("EventSourceMappings", []):
                dest = ((m.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
                    "Destination"
                )
                out.append(
                    {
                        "uuid": m["UUID"],
                        "state": m.get("State"),
                        "last_processing_result": m.get("LastProcessingResult"),
                        "source": m.get("EventSourceArn"),
                        "on_failure": dest,
                    }
                )
        return out

    def dlq() -> dict[str, Any]:
        attrs = sqs.get_queue_attributes(
            QueueUrl=d.dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {
            "url": d.dlq_url,
            "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        }

    def alarms() -> list[dict[str, Any]]:
        names = d.outputs.get("alarm_names")
        wanted = [str(v) for v in names.values() if v] if isinstance(names, dict) else []
        # without the alarm_names output (a deployment named by --function-name): the alarms on
        # the stack's own resources, by their metric's dimensions
        ours = {("FunctionName", fn)}
        for dim, key in (("QueueName", target.DLQ_URL), ("TableName", target.TABLE_NAME)):
            if d.outputs.get(key):
                ours.add((dim, str(d.outputs[key]).rsplit("/", 1)[-1]))
        out = []
        for page in cw.get_paginator("describe_alarms").paginate(
            **({"AlarmNames": wanted} if wanted else {})
        ):
            for a in page.get("MetricAlarms", []):
                dims = {(x["Name"], x["Value"]) for x in a.get("Dimensions", [])}
                if not wanted and not dims & ours:
                    continue
                out.append(
                    {
                        "name": a["AlarmName"],
                        "state": a["StateValue"],
                        "since": a["StateUpdatedTimestamp"].isoformat(),
                        "reason": a.get("StateReason", ""),
                    }
                )
        return sorted(out, key=lambda a: a["name"])

    def audit() -> dict[str, Any]:
        objects = 0
        for hour in (start, now):
            prefix = (
                f"{d.audit_prefix}table={d.table_name}/year={hour:%Y}/month={hour:%m}/"
                f"day={hour:%d}/hour={hour:%H}/"
            )
            objects += _count_objects(s3, d.bucket, prefix, since=start)
        return {"objects_1h": objects, "prefix": d.audit_prefix}

    def quarantine() -> dict[str, Any]:
        prefix = env.get("QUARANTINE_PREFIX") or "quarantine/"
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        return {"records": _count_objects(s3, d.bucket, prefix), "prefix": prefix}

    status: dict[str, Any] = {
        "target": d.source,
        "time": now.isoformat(),
        "function": fn,
        "mappings": _section(mappings),
        "metrics": _section(metrics),
        "dlq": _section(dlq),
        "alarms": _section(alarms),
        "audit": _section(audit),
        "quarantine": _section(quarantine),
    }
    if isinstance(got_env, dict) and "error" in got_env:
        status["function_error"] = got_env["error"]
    for m in status["mappings"] if isinstance(status["mappings"], list) else []:
        dest = m.get("on_failure") or ""
        if dest.startswith("arn:aws:s3:::"):
            bucket = dest.split(":::", 1)[1].split("/", 1)[0]
            m["failure_objects"] = _section(lambda b=bucket: _count_objects(s3, b, ""))
    return status


# ---------------------------------------------------------------------------------------------
# The screen
# ---------------------------------------------------------------------------------------------


def _span(secs: float) -> str:
    secs = max(0, int(secs))
    return f"{secs}s" if secs < 120 else f"{secs // 60}m"


def _minute_ago(iso: str | None, now: datetime) -> str:
    """The clock minute that starts at ``iso`` and how long ago it was (``15:10-15:11
    (0-55s ago)``)."""
    if not iso:
        return "none in the last hour"
    t = datetime.fromisoformat(iso)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    end = t + timedelta(minutes=1)
    lo, hi = (now - end).total_seconds(), (now - t).total_seconds()
    a, b = _span(lo), _span(hi)
    if a[-1] == b[-1]:  # one unit: 0-55s, 3-4m
        a = a[:-1]
    return f"in the minute {t:%H:%M}-{end:%H:%M} ({a}-{b} ago)"


def _ago(iso: str | None, now: datetime) -> str:
    if not iso:
        return "none in the last hour"
    t = datetime.fromisoformat(iso)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    secs = max(0, int((now - t).total_seconds()))
    span = f"{secs}s" if secs < 120 else f"{secs // 60}m"
    return f"{t:%H:%M:%S} ({span} ago)"


def _err(section: Any) -> str | None:
    return section.get("error") if isinstance(section, dict) else None


def _cap(n: int) -> str:
    return f"{n}+" if n >= LIST_CAP else str(n)


def render(s: dict[str, Any]) -> str:
    now = datetime.fromisoformat(s["time"])
    lines = [f"ddbstream status: {s['target']}  ({now:%Y-%m-%d %H:%M:%S} UTC)", ""]
    if s.get("function_error"):
        lines.append(f"function {s['function']}: {s['function_error']}")

    met = s["metrics"]
    lines.append(f"Stream processing  (function {s['function']})")
    if _err(s["mappings"]):
        lines.append(f"  mappings: {_err(s['mappings'])}")
    elif not s["mappings"]:
        lines.append("  no event source mapping")
    for m in s["mappings"] if isinstance(s["mappings"], list) else []:
        line = (
            f"  mapping {m['uuid'][:8]}  {m['state']}  last result: "
            f"{m.get('last_processing_result') or '-'}"
        )
        if m.get("on_failure"):
            line += f"  on failure -> {m['on_failure'].rsplit(':', 1)[-1]}"
        lines.append(line)
        if "failure_objects" in m:
            fo = m["failure_objects"]
            lines.append(f"    failure objects in S3: {_err(fo) or _cap(int(fo))}")
    if _err(met):
        lines.append(f"  metrics: {_err(met)}")
    else:
        age = met["iterator_age_ms"]
        lines.append(
            f"  last batch {_minute_ago(met['last_batch'], now)}; last hour: "
            f"{met['changes_1h']} changes processed, {met['invocations_1h']} invocations, "
            f"{met['errors_1h']} errors; iterator age "
            + (f"{age:.0f} ms" if age is not None else "-")
        )
    lines.append("")

    dlq = s["dlq"]
    if _err(dlq):
        lines.append(f"DLQ  {_err(dlq)}")
    else:
        name = dlq["url"].rsplit("/", 1)[-1]
        lines.append(
            f"DLQ  {name}: {dlq['visible']} failed batch(es) waiting, {dlq['in_flight']} in flight"
            + ("  -> ddbstream dlq replay" if dlq["visible"] else "")
        )
    lines.append("")

    alarms = s["alarms"]
    if _err(alarms):
        lines.append(f"Alarms  {_err(alarms)}")
    else:
        firing = sum(1 for a in alarms if a["state"] == "ALARM")
        lines.append(f"Alarms  ({len(alarms)}, {firing} in ALARM)")
        width = max((len(a["name"]) for a in alarms), default=0)
        for a in alarms:
            line = f"  {a['state']:<17} {a['name']:<{width}}  since {_ago(a['since'], now)}"
            if a["state"] == "ALARM" and a["reason"]:
                line += f"\n  {'':<17} {a['reason'][:160]}"
            lines.append(line)
    lines.append("")

    audit, q = s["audit"], s["quarantine"]
    lines.append(
        "Audit log  "
        + (_err(audit) or f"{_cap(audit['objects_1h'])} objects written in the last hour")
    )
    lines.append(
        "Quarantine  " + (_err(q) or f"{_cap(q['records'])} record(s) under {q['prefix']}")
    )
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    d = target.resolve(args)
    s = collect(d)
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(s, indent=2, default=str) + "\n")
    else:
        print(render(s))
    return 0
