"""Verbs for watching a deployment: status, notifications."""

from __future__ import annotations

import argparse
from typing import Any

from ddbstream.ops import target


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "status",
        help="one screen: mappings, DLQ, alarms, audit log and quarantine",
        description="One screen of the stream processing: per event source mapping its state "
        "and last processing result; the function's last batch, changes processed, errors and "
        "iterator age over the last hour (CloudWatch); the DLQ's depth (and the failure objects "
        "when a mapping sends failures to S3); every alarm's state and since when; the audit "
        "objects written in the last hour; the quarantined records. Read through the same APIs "
        "an operator uses on AWS, so it works on the local stack and on a deployment.",
    )
    p.add_argument("--json", action="store_true", help="print the data as JSON")
    target.add_target_arguments(p)
    p.set_defaults(run="ddbstream.ops.status:cmd_status")

    p = sub.add_parser(
        "notifications",
        help="what the SNS topics' subscribers received: change and alarm notifications",
        description="List the notifications published to the stack's SNS topics: the "
        "processor's change notifications (sns_topic_arn) and CloudWatch's alarm notifications "
        "(alarm_topic_arn), oldest first. On the local stack they come from its inbox (a queue "
        "it subscribes to both topics and drains into notifications.jsonl in its state "
        "directory; readable while the stack is down); on a deployment pass --queue-url of an "
        "SQS queue subscribed to them (its messages are consumed).",
    )
    p.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new ones until Ctrl-C"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per notification")
    p.add_argument(
        "-n", "--last", type=int, default=None, metavar="N", help="only the last N (local inbox)"
    )
    p.add_argument(
        "--kind", choices=("alarm", "change", "other"), default=None, help="only this kind"
    )
    p.add_argument(
        "--queue-url",
        default=None,
        metavar="URL",
        help="read (and delete) from this SQS queue instead of the local stack's inbox",
    )
    target.add_target_arguments(p)
    p.set_defaults(run="ddbstream.ops.notifications:cmd_notifications")
