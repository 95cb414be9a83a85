"""``ddbstream notifications [-f] [--json]``: what the topics' subscribers received.

Two kinds arrive, each on its own topic: *change notifications* from the processor (topic
``sns_topic_arn``, subject ``DynamoDB Activity: ...``, body the change's audit line) and *alarm
notifications* from CloudWatch (topic ``alarm_topic_arn``, body the alarm JSON: ``AlarmName``,
``NewStateValue``, ``NewStateReason``, ...).

On the local stack they are read from its inbox (a queue it subscribes to both topics and drains
into ``notifications.jsonl`` in the state directory, :mod:`ddbstream.local.monitoring.inbox`), so
they can be listed again and followed, also while the stack is down. On a deployment, subscribe
an SQS queue to the topics (``sns_topic_arn``, ``alarm_topic_arn``) and pass ``--queue-url``: the
messages are read from it and deleted, as any consumer of that queue would.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ddbstream.errors import UserError
from ddbstream.ops import target

INBOX_FILE = "notifications.jsonl"  # the same name as local.monitoring.inbox.INBOX_FILE


def classify(rec: dict[str, Any]) -> dict[str, Any]:
    """A notification as the verb shows it: kind ``alarm`` / ``change`` / ``other``."""
    body: Any = rec.get("Message", "")
    try:
        parsed = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        parsed = None
    out: dict[str, Any] = {
        "received": rec.get("received"),
        "timestamp": rec.get("Timestamp"),
        "subject": rec.get("Subject"),
        "message_id": rec.get("MessageId"),
        "topic": rec.get("TopicArn"),
    }
    if isinstance(parsed, dict) and "AlarmName" in parsed and "NewStateValue" in parsed:
        out.update(
            kind="alarm",
            alarm=parsed["AlarmName"],
            old_state=parsed.get("OldStateValue"),
            new_state=parsed["NewStateValue"],
            reason=parsed.get("NewStateReason", ""),
            state_change_time=parsed.get("StateChangeTime"),
            body=parsed,
        )
    elif isinstance(parsed, dict) and "event_name" in parsed:
        out.update(
            kind="change",
            event_name=parsed.get("event_name"),
            table=parsed.get("table_name"),
            keys=parsed.get("keys"),
            body=parsed,
        )
    else:
        out.update(kind="other", body=parsed if parsed is not None else body)
    attrs = rec.get("MessageAttributes")
    if attrs:
        out["attributes"] = {k: v.get("Value") for k, v in attrs.items() if isinstance(v, dict)}
    return out


def _clock(iso: str | None) -> str:
    if not iso:
        return "--:--:--"
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%H:%M:%S")
    except ValueError:
        return iso


def render(n: dict[str, Any]) -> str:
    t = _clock(n.get("timestamp") or n.get("received"))
    if n["kind"] == "alarm":
        return (
            f"{t}  alarm   {n['alarm']}: {n.get('old_state')} -> {n['new_state']}  "
            f"{n.get('reason', '')}"
        )
    if n["kind"] == "change":
        keys = json.dumps(n.get("keys"), sort_keys=True, separators=(",", ":"))
        return f"{t}  change  {n.get('event_name')} {n.get('table')} {keys}"
    body = n.get("body")
    text = body if isinstance(body, str) else json.dumps(body)
    return f"{t}  other   {n.get('subject') or ''} {text[:200]}".rstrip()


def _lines(text: str) -> Iterator[dict[str, Any]]:
    for line in text.split("\n"):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            yield rec


def _read_from(path: Path, pos: int) -> tuple[bytes, int]:
    """The complete lines of ``path`` from byte ``pos``, and the position after them."""
    with open(path, "rb") as f:
        f.seek(pos)
        chunk = f.read()
    complete, nl, _rest = chunk.rpartition(b"\n")
    return complete, pos + len(complete) + len(nl)


def _from_file(path: Path, follow: bool, start: int) -> Iterator[dict[str, Any]]:
    """The notifications kept (``<file>.1`` after a rotation, then the file), skipping the first
    ``start``; with ``follow``, then each one appended, across rotations (the file's inode
    changes: the rest of the old one, now ``<file>.1``, is read first)."""
    older_path = path.with_name(path.name + ".1")
    seen = 0

    def emit(raw: bytes) -> Iterator[dict[str, Any]]:
        nonlocal seen
        for rec in _lines(raw.decode("utf-8", errors="replace")):
            seen += 1
            if seen > start:
                yield rec

    with contextlib.suppress(FileNotFoundError):
        yield from emit(_read_from(older_path, 0)[0])
    ino: int | None = None
    pos = 0
    while True:
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below; its inode read from the open file
        except FileNotFoundError:
            f = None
        if f is not None:
            with f:
                now = os.fstat(f.fileno()).st_ino
                if ino is not None and now != ino:  # rotated since the last read
                    with contextlib.suppress(FileNotFoundError):
                        if older_path.stat().st_ino == ino:
                            yield from emit(_read_from(older_path, pos)[0])
                    pos = 0
                ino = now
                f.seek(pos)
                complete, nl, _rest = f.read().rpartition(b"\n")
                pos += len(complete) + len(nl)
            yield from emit(complete)
        if not follow:
            return
        time.sleep(0.5)


def _from_queue(sqs: Any, url: str, follow: bool) -> Iterator[dict[str, Any]]:
    while True:
        msgs = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5 if follow else 1
        ).get("Messages", [])
        for m in msgs:
            try:
                rec = json.loads(m["Body"])
            except ValueError:
                rec = {"Message": m["Body"]}
            yield rec if isinstance(rec, dict) else {"Message": m["Body"]}
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if not msgs and not follow:
            return


def cmd_notifications(args: argparse.Namespace) -> int:
    if args.last is not None and args.last < 0:
        raise UserError(f"--last {args.last}: must be 0 or more")
    deployment = getattr(args, "terraform_dir", None) or getattr(args, "function_name", None)
    if not args.queue_url and not deployment:
        # the local inbox is a file: readable whether the stack runs or not
        from ddbstream.local import stack as local_stack

        sd = local_stack.state_dir_of(getattr(args, "state_dir", None))
        path = sd / INBOX_FILE
        if not path.exists() and local_stack.find_running(sd) is None:
            raise UserError(
                f"no notifications in {sd}: the local stack has not run there yet (ddbstream up)"
            )
        records = _local(path, args)
    else:
        d = target.resolve(args)
        if not args.queue_url:
            raise UserError(
                f"{d.source}: pass --queue-url URL of an SQS queue subscribed to the topics "
                f"{d.outputs.get('sns_topic_arn', '')} {d.outputs.get('alarm_topic_arn', '')} "
                "(the local stack keeps an inbox; AWS does not)"
            )
        records = _from_queue(d.client("sqs"), args.queue_url, args.follow)
    return _show(records, args)


def _local(path: Path, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    start = 0
    if args.last is not None:
        total = sum(1 for _ in _from_file(path, False, 0))
        start = max(0, total - args.last)
    return _from_file(path, args.follow, start)


def _show(records: Iterator[dict[str, Any]], args: argparse.Namespace) -> int:
    shown = 0
    try:
        for rec in records:
            n = classify(rec)
            if args.kind and n["kind"] != args.kind:
                continue
            if args.json:
                sys.stdout.write(json.dumps(n, sort_keys=True, default=str) + "\n")
            else:
                sys.stdout.write(render(n) + "\n")
            sys.stdout.flush()
            shown += 1
    except KeyboardInterrupt:
        return 0
    if not shown and not args.json and not args.follow:
        print("no notifications" + (f" of kind {args.kind}" if args.kind else ""), file=sys.stderr)
    return 0
