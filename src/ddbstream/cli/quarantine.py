"""``ddbstream quarantine list`` / ``quarantine replay``: poison records, listed and re-run."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ddbstream.cli.dlq import Bar, _aws_errors, _positive, _wrap
from ddbstream.ops import target

REPLAY_EPILOG = """\
exit status:
  0  every quarantine object taken was replayed (or given up with --skip), or there was none
  1  the replay could not run: no stack, a wrong --terraform-dir, the function's configuration
     invalid, a --key not found, AWS errors
  3  something was kept: records that still do not decode, or whose effects did not all land,
     or a --dry-run with work to do
"""


def register(sub: Any) -> None:
    g: argparse.ArgumentParser = sub.add_parser(
        "quarantine",
        help="list and replay poison records (records the function could not decode)",
        description="The function writes a record it cannot decode, with the error, to "
        "QUARANTINE_PREFIX in its bucket and goes on. These commands list those objects and run "
        "their records through the function's pipeline again (after a fix to the processor).",
    )
    gs = g.add_subparsers(dest="quarantine_verb", metavar="VERB", required=True)

    p = gs.add_parser(
        "list",
        help="every quarantined record with its error (nothing is removed)",
        description="List the quarantine objects of the function's bucket (S3_BUCKET_NAME, "
        "QUARANTINE_PREFIX of the deployed function): table, sequence number, error, size, "
        "when it was written.",
    )
    p.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    target.add_target_arguments(p)
    p.set_defaults(run="ddbstream.cli.quarantine:cmd_list")

    p = gs.add_parser(
        "replay",
        help="run quarantined records through the function's pipeline again",
        description=_wrap(
            "Run each quarantined record through the pipeline of the installed "
            "ddbstream (the same code as the function's package when deployed from this checkout) "
            "with the deployed function's configuration; remove each quarantine object only once "
            "its change landed (audit object written, notification sent, marked replayed=true). A "
            "record that still does not decode is reported and kept, unless --skip."
        ),
        epilog=REPLAY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dry-run", action="store_true", help="decode only, change nothing")
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KEY",
        help="only this quarantine object (repeatable; see `quarantine list`)",
    )
    p.add_argument("--limit", type=_positive, default=None, metavar="N", help="at most N objects")
    p.add_argument(
        "--skip",
        action="store_true",
        help="give up records that still do not decode: remove their quarantine objects "
        "(each is printed with its error) instead of keeping them",
    )
    p.add_argument("--no-notify", action="store_true", help="write the audit log only")
    p.add_argument("--json", action="store_true", help="the report as one JSON document")
    target.add_target_arguments(p)
    p.set_defaults(run="ddbstream.cli.quarantine:cmd_replay")


def cmd_list(args: argparse.Namespace) -> int:
    from ddbstream.ops import quarantine

    d = target.resolve(args)
    bar = Bar("reading")
    try:
        with _aws_errors():
            location, found = quarantine.list_quarantined(d, progress=bar)
    finally:
        bar.close()
    if args.json:
        print(json.dumps({"location": location, "objects": [q.to_json() for q in found]}, indent=2))
        return 0
    if not found:
        print(f"nothing in {location}: no quarantined record")
        return 0
    print(f"{len(found)} quarantined record(s) in {location}")
    for q in found:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(q.modified))
        print(f"\n{q.key}")
        print(f"   table {q.table} · sequence {q.sequence_number or '?'} · {q.size} bytes · {when}")
        print(f"   error: {q.problem or q.error}")
    print("\nreplay (after a fix): ddbstream quarantine replay")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from ddbstream.ops import quarantine

    d = target.resolve(args)
    bar = Bar("replaying")

    def show(r: Any) -> None:
        if not args.json:
            bar.close()
            print(f"{r.status} {r.key}: {r.detail}", flush=True)

    try:
        with _aws_errors():
            report = quarantine.replay(
                d,
                keys=args.key,
                limit=args.limit,
                skip=args.skip,
                dry_run=args.dry_run,
                notify=not args.no_notify,
                progress=bar,
                on_result=show,
            )
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return report.exit_code
    if not report.results:
        print(f"nothing to replay in {report.location}")
        return 0
    counts = ", ".join(
        f"{report.count(s)} {s}"
        for s in ("replayed", "would-replay", "skipped", "still-failing", "failed", "unreadable")
        if report.count(s)
    )
    print(
        f"{len(report.results)} object(s): {counts}; {report.changes} changes, "
        f"{report.audit_objects} audit object(s), {report.notifications} notification(s)"
    )
    return report.exit_code
