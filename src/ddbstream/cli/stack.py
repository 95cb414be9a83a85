"""Verbs of the package and the local stack: package, up, down, env, output, demo, handler-demo."""

from __future__ import annotations

import argparse
from typing import Any

from ddbstream.cli import add_state_dir, non_negative_int, port


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "package",
        help="build the Lambda deployment zip (reproducible: same source, same bytes)",
        description="Build the Lambda zip from the installed ddbstream package. The same source "
        "always gives the same bytes, so Terraform's source_code_hash only changes with the code.",
    )
    p.add_argument(
        "-o",
        "--output",
        default="build/ddbstream-lambda.zip",
        help="zip path (default: %(default)s)",
    )
    p.set_defaults(run="ddbstream.packaging:cmd_package")

    p = sub.add_parser(
        "up",
        help="start the local stack: emulator, terraform apply, local Lambda runtime",
        description="Start moto's server on a loopback port, apply terraform/ to it with a "
        "separate local state, then run the event source mappings with the local Lambda runtime. "
        "Runs until Ctrl-C or `ddbstream down`. A second `up` reuses the running stack.",
    )
    p.add_argument(
        "--port",
        type=port,
        default=None,
        help="emulator port (default: the last run's, else 4566, else a free one; 0: any free)",
    )
    add_state_dir(p)
    p.add_argument(
        "--detach", action="store_true", help="return once the stack is ready, leave it running"
    )
    p.set_defaults(run="ddbstream.local.stack.commands:cmd_up")

    p = sub.add_parser(
        "down", help="stop the local stack", description="Stop a running local stack cleanly."
    )
    add_state_dir(p)
    p.set_defaults(run="ddbstream.local.stack.commands:cmd_down")

    p = sub.add_parser(
        "env",
        help="print export lines pointing the AWS CLI and boto3 at the local stack",
        description="Print `export` lines (AWS_ENDPOINT_URL, region, dummy credentials) for the "
        'local stack. Use: eval "$(ddbstream env)"',
    )
    add_state_dir(p)
    p.set_defaults(run="ddbstream.local.stack.commands:cmd_env")

    p = sub.add_parser(
        "output",
        help="print the local stack's Terraform outputs, like `terraform output`",
        description="Print the local stack's Terraform outputs. With -raw and a NAME, print the "
        "bare value, as `terraform output -raw NAME` does.",
    )
    # one or the other, as terraform output refuses both
    form = p.add_mutually_exclusive_group()
    form.add_argument("-raw", "--raw", action="store_true", help="print the bare string value")
    form.add_argument("-json", "--json", action="store_true", help="print JSON")
    p.add_argument("name", nargs="?", help="output name (default: all outputs)")
    add_state_dir(p)
    p.set_defaults(run="ddbstream.local.stack.commands:cmd_output")

    p = sub.add_parser(
        "demo",
        help="bring the local stack up and walk through the seed README's checks",
        description="Bring the local stack up (or reuse it), insert test data, verify processing "
        "(logs, audit objects, notifications), exercise error handling (DLQ) and a short burst "
        "of activity, then summarise what each step verified and where the time went.",
    )
    add_state_dir(p)
    p.add_argument(
        "--burst",
        type=non_negative_int,
        default=200,
        help="changes in the activity burst (0 skips it; default: %(default)s)",
    )
    p.set_defaults(run="ddbstream.local.demo:cmd_demo")

    p = sub.add_parser(
        "handler-demo",
        help="send sample stream records through the real Lambda handler (moto, in process)",
        description="Start moto's server in this process, create a bucket, a topic and an SQS "
        "queue subscribed to it, then call ddbstream.handler.lambda_handler with stream "
        "records shaped like the seed's UserActivities items (INSERT, MODIFY, a TTL expiry, a "
        "poison record) and print what landed: the audit object, the notifications, the "
        "quarantine object; then a retry, an SNS failure (partial batch response) and the "
        "seed's invalid-arn error test. Needs no AWS account, Docker or Terraform.",
    )
    p.set_defaults(run="ddbstream.local.handler_demo:cmd_handler_demo")
