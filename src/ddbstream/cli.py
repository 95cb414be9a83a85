"""The ``ddbstream`` command line.

Each verb's work lives in its own module, imported only when the verb runs, so ``--help`` is
fast and the Lambda package never imports the local stack.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# verb -> "module:function"; the function takes the parsed argparse.Namespace, returns an exit code.
_TARGETS: dict[str, str] = {
    "package": "ddbstream.packaging:cmd_package",
    "up": "ddbstream.local.stack:cmd_up",
    "down": "ddbstream.local.stack:cmd_down",
    "env": "ddbstream.local.stack:cmd_env",
    "output": "ddbstream.local.stack:cmd_output",
    "demo": "ddbstream.local.demo:cmd_demo",
    "handler-demo": "ddbstream.local.handler_demo:cmd_handler_demo",
}


def _add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        default=None,
        help="local state directory (default: $DDBSTREAM_STATE_DIR, else .ddbstream/ in the "
        "project)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ddbstream",
        description=(
            "Real-time processing of DynamoDB change streams. The Lambda entry point is "
            "ddbstream.handler.lambda_handler; this command builds its package and runs the "
            "whole stack locally (no AWS account, no Docker)."
        ),
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = sub.add_parser(
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

    p = sub.add_parser(
        "up",
        help="start the local stack: emulator, terraform apply, local Lambda runtime",
        description="Start moto's server on a loopback port, apply terraform/ to it with a "
        "separate local state, then run the event source mappings with the local Lambda runtime. "
        "Runs until Ctrl-C or `ddbstream down`. A second `up` reuses the running stack.",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="emulator port (default: the last run's, else 4566, else a free one; 0: any free)",
    )
    _add_state_dir(p)
    p.add_argument(
        "--detach", action="store_true", help="return once the stack is ready, leave it running"
    )

    p = sub.add_parser(
        "down", help="stop the local stack", description="Stop a running local stack cleanly."
    )
    _add_state_dir(p)

    p = sub.add_parser(
        "env",
        help="print export lines pointing the AWS CLI and boto3 at the local stack",
        description="Print `export` lines (AWS_ENDPOINT_URL, region, dummy credentials) for the "
        'local stack. Use: eval "$(ddbstream env)"',
    )
    _add_state_dir(p)

    p = sub.add_parser(
        "output",
        help="print the local stack's Terraform outputs, like `terraform output`",
        description="Print the local stack's Terraform outputs. With -raw and a NAME, print the "
        "bare value, as `terraform output -raw NAME` does.",
    )
    p.add_argument("-raw", "--raw", action="store_true", help="print the bare string value")
    p.add_argument("-json", "--json", action="store_true", help="print JSON")
    p.add_argument("name", nargs="?", help="output name (default: all outputs)")
    _add_state_dir(p)

    p = sub.add_parser(
        "demo",
        help="bring the local stack up and walk through the seed README's checks",
        description="Bring the local stack up (or reuse it), insert test data, verify processing "
        "(logs, audit objects, notifications), exercise error handling (DLQ) and a short burst "
        "of activity, then summarise what each step verified and where the time went.",
    )
    _add_state_dir(p)
    p.add_argument("--burst", type=int, default=200, help="changes in the activity burst")
    sub.add_parser(
        "handler-demo",
        help="send sample stream records through the real Lambda handler (moto, in process)",
        description="Start moto's server in this process, create a bucket, a topic and an SQS "
        "queue subscribed to it, then call ddbstream.handler.lambda_handler with stream "
        "records shaped like the seed's UserActivities items (INSERT, MODIFY, a TTL expiry, a "
        "poison record) and print what landed: the audit object, the notifications, the "
        "quarantine object; then a retry, an SNS failure (partial batch response) and the "
        "seed's invalid-arn error test. Needs no AWS account, Docker or Terraform.",
    )
    return parser


def _resolve(target: str) -> Callable[[argparse.Namespace], int]:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _resolve(_TARGETS[args.verb])(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
