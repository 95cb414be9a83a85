"""``ddbstream dlq list`` / ``dlq replay``: failed batches back from the on-failure destination."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

from ddbstream.ops import target

REPLAY_EPILOG = """\
exit status:
  0  every on-failure record taken was replayed (or discarded with --discard-expired), or there
     was nothing to replay
  1  the replay could not run: no stack, a wrong --terraform-dir, the function's configuration
     still invalid, a --message-id not found, AWS errors
  3  something was kept in the DLQ: records that can no longer be read, a batch whose effects
     did not all land, messages that are not on-failure records, or a --dry-run with work to do

Delivery is at least once: a replay interrupted between writing a batch's effects and deleting
its message replays that batch again next time (readers deduplicate the audit log by event_id).
"""


def register(sub: Any) -> None:
    g: argparse.ArgumentParser = sub.add_parser(
        "dlq",
        help="list and replay failed batches (the DLQ's on-failure records)",
        description="A batch that exhausts its retries leaves an on-failure record in the DLQ "
        "(SQS: metadata only) or in the on-failure bucket (S3: with the records). These "
        "commands list them and run their records through the function's pipeline again.",
    )
    gs = g.add_subparsers(dest="dlq_verb", metavar="VERB", required=True)

    p = gs.add_parser(
        "list",
        help="every on-failure record, readable (nothing is removed)",
        description="List every message of the DLQ and every on-failure object of the "
        "on-failure bucket: table and stream, shard, sequence range, batch size, condition, "
        "function error, first/last arrival, age, and whether its records can still be read "
        "(from the stream within its 24-hour retention, or from the S3 object). A message that "
        "is not an on-failure record is listed as such. Nothing is deleted; messages are made "
        "visible again at once.",
    )
    p.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    target.add_target_arguments(p)
    p.set_defaults(run="ddbstream.cli.dlq:cmd_list")

    p = gs.add_parser(
        "replay",
        help="run the failed batches' records through the function's pipeline again",
        description=_wrap(
            "For each on-failure record: read its records (S3 object, else the stream "
            "by shard and sequence range), run them through the same pipeline the function runs, "
            "with the deployed function's own configuration (bucket, topic, prefixes, rules), and "
            "delete the message only once every record's effects landed. Replayed notifications "
            "carry the message attribute replayed=true. Run it again after an interruption."
        ),
        epilog=REPLAY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dry-run", action="store_true", help="read and decode, write nothing")
    p.add_argument(
        "--message-id",
        action="append",
        default=[],
        metavar="ID",
        help="only this SQS message id or S3 key (repeatable; see `dlq list`)",
    )
    p.add_argument(
        "--limit", type=_positive, default=None, metavar="N", help="at most N on-failure records"
    )
    p.add_argument(
        "--no-notify",
        action="store_true",
        help="write the audit log only, publish no notification",
    )
    p.add_argument(
        "--discard-expired",
        action="store_true",
        help="delete on-failure records whose records can no longer be read (trimmed from the "
        "stream); by default they are reported and kept",
    )
    p.add_argument(
        "--visibility-timeout",
        type=_positive,
        default=30,
        metavar="S",
        help="seconds a message this replay takes stays hidden from other readers, extended "
        "while it is worked on; an interrupted replay's messages are back after it "
        "(default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="the report as one JSON document")
    target.add_target_arguments(p)
    p.set_defaults(run="ddbstream.cli.dlq:cmd_replay")


def _wrap(text: str) -> str:
    """A description pre-wrapped for RawDescriptionHelpFormatter (kept for the epilog)."""
    return textwrap.fill(text, 79)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n}: must be 1 or more")
    return n


class Bar:
    """A progress bar on stderr when it is a terminal; nothing otherwise (each item prints a
    line anyway)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.tty:
            return
        frac = min(done / max(total, 1), 1.0)
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        elapsed = time.monotonic() - self.started
        sys.stderr.write(f"\r{self.label} [{bar}] {done}/{total} {elapsed:5.1f}s")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False


@contextlib.contextmanager
def _aws_errors() -> Iterator[None]:
    """An AWS error answer (access denied, a queue that is gone, ...) as one line."""
    from botocore.exceptions import ClientError

    from ddbstream.errors import UserError

    try:
        yield
    except ClientError as exc:
        err = exc.response.get("Error", {})
        op = getattr(exc, "operation_name", "") or "AWS"
        raise UserError(
            f"{op}: {err.get('Code', 'error')}: {err.get('Message', '') or exc}"
        ) from exc


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d"


def cmd_list(args: argparse.Namespace) -> int:
    from ddbstream.ops import dlq

    d = target.resolve(args)
    bar = Bar("reading")
    try:
        with _aws_errors():
            listed = dlq.list_records(d, progress=bar)
    finally:
        bar.close()
    now = time.time()
    if args.json:
        print(
            json.dumps(
                {
                    "destinations": dlq.destinations(d).describe(),
                    "messages": [x.to_json(now) for x in listed],
                },
                indent=2,
            )
        )
        return 0
    where = dlq.destinations(d).describe()
    if not listed:
        print(f"nothing in {where}: no failed batch waiting")
        return 0
    records = [x for x in listed if x.item.record is not None]
    print(
        f"{len(listed)} message(s) in {where}: {len(records)} on-failure record(s), "
        f"{len(listed) - len(records)} other"
    )
    for n, x in enumerate(listed, 1):
        it = x.item
        age = None if it.arrived is None else now - it.arrived
        print(f"\n{n}. [{it.source}] {it.id}")
        if it.record is None:
            preview = " ".join(it.body.split())[:100]
            print(f"   NOT AN ON-FAILURE RECORD ({x.where}): {preview!r}; never deleted")
            continue
        r = it.record
        b = r.batch
        print(
            f"   {r.condition or '?'} · function error {r.function_error or 'none'} · "
            f"{r.approximate_invoke_count} invocation(s) · {r.function_name}"
        )
        print(f"   table {b.table_name} · {b.shard_id}")
        print(
            f"   sequence {b.start_sequence_number} .. {b.end_sequence_number} "
            f"({b.batch_size} record(s))"
        )
        print(
            f"   arrived {b.first_arrival} .. {b.last_arrival} · in the DLQ since "
            f"{dlq._iso(it.arrived)} (age {_age(age)})"
        )
        if r.records is not None:
            print(f"   records: {len(r.records)} held in the S3 object")
        elif x.readable:
            from ddbstream.ops.onfailure import readable_until

            until = readable_until(r)
            left = "" if until is None else f" for about {_age(until - now)} more"
            print(f"   records: readable from the stream{left}")
        else:
            print(f"   records: NOT READABLE: {x.where}")
    tf_dir = getattr(args, "terraform_dir", None)
    print("\nreplay: ddbstream dlq replay" + (f" --terraform-dir {tf_dir}" if tf_dir else ""))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from ddbstream.ops import dlq

    d = target.resolve(args)
    bar = Bar("replaying")

    def say(text: str) -> None:
        bar.close()
        print(text, file=sys.stderr, flush=True)

    def show(r: Any) -> None:
        if args.json:
            return
        bar.close()
        what = f"[{r.source}] {r.id}"
        if r.status in ("replayed", "would-replay"):
            line = (
                f"{r.status} {what}: {r.records} records, {r.changes} changes, "
                f"{r.audit_objects} audit object(s), {r.notifications} notification(s)"
                + (f", {r.quarantined} quarantined" if r.quarantined else "")
                + (f" ({r.detail})" if r.detail else "")
            )
        else:
            line = f"{r.status} {what}: {r.detail}"
        print(line, flush=True)

    try:
        with _aws_errors():
            report = dlq.replay(
                d,
                dry_run=args.dry_run,
                message_ids=args.message_id,
                limit=args.limit,
                notify=not args.no_notify,
                discard_expired=args.discard_expired,
                visibility_timeout=args.visibility_timeout,
                progress=bar,
                say=say,
                on_result=show,
            )
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return report.exit_code
    if not report.results:
        print(f"nothing to replay in {report.destinations}")
    else:
        print(dlq.summary(report))
    if report.kept:
        print(
            f"{len(report.kept)} message(s) kept (see `ddbstream dlq list`)",
            file=sys.stderr,
        )
    return report.exit_code
