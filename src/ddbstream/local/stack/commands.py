"""The CLI verbs presenting the local stack: ``up``, ``down``, ``env``, ``output``.

They parse nothing (:mod:`ddbstream.cli.stack` does) and decide nothing about the lifecycle
(:mod:`.lifecycle`, :mod:`.serve` do): they print what happened and how to use it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from ddbstream.local import clients, emulator

from .lifecycle import LocalStack
from .process import current_outputs, find_running, require_running, up_lock
from .serve import serve, start_detached, stop_stack, wait_for_ready
from .state import (
    LOG_FILE,
    StackError,
    read_state,
    state_dir_flag,
    state_dir_of,
    writable_state_dir,
)


def usage_text(state: dict[str, Any], state_dir: Path) -> str:
    sd = state_dir_flag(state_dir)
    bin_dir = Path(sys.executable).parent
    found = shutil.which("ddbstream")
    path_line = (
        ""
        if found and Path(found).parent == bin_dir
        else f'  export PATH="{bin_dir}:$PATH"      # ddbstream and aws from the project\'s venv\n'
    )
    return f"""\
The local stack is ready at {state["endpoint"]} (state: {state_dir}).

Point the AWS CLI and boto3 at it, see its Terraform outputs:
{path_line}  eval "$(ddbstream env{sd})"
  ddbstream output{sd}
  TABLE_NAME=$(ddbstream output{sd} -raw dynamodb_table_name)

The seed README's "Testing the Infrastructure" walkthrough works with `terraform output -raw X`
replaced by `ddbstream output -raw X` (and its --environment argument in JSON form, see the
README), e.g.
  aws dynamodb put-item --table-name $TABLE_NAME \\
      --item '{{"UserId": {{"S": "u1"}}, "ActivityId": {{"S": "a1"}}}}'
  aws logs filter-log-events --filter-pattern 'Processing' \\
      --log-group-name $(ddbstream output{sd} -raw lambda_log_group_name)
  aws s3 ls s3://$(ddbstream output{sd} -raw s3_bucket_name)/audit-logs/ --recursive
Or run it all: ddbstream demo{sd}"""


def _say_flush(text: str) -> None:
    print(text, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = state_dir_of(args.state_dir)
    running = find_running(state_dir)
    if running is None:
        writable_state_dir(state_dir)
    if running is not None:
        print(
            f"A local stack is already running (pid {running['pid']}) at "
            f"{running['endpoint']}: reusing it.\n"
        )
        print(usage_text(running, state_dir))
        return 0
    if getattr(args, "detach", False):
        state, started = start_detached(state_dir, port=args.port, say=_say_flush)
        if not started:
            print(f"A local stack is already running at {state['endpoint']}: reusing it.")
        print(usage_text(state, state_dir))
        print(
            f"\nIt runs in the background (pid {state['pid']}, log {state_dir / LOG_FILE});"
            " `ddbstream down` stops it."
        )
        return 0
    with up_lock(state_dir) as mine:
        if not mine:
            print(f"A local stack is starting in {state_dir}: waiting for it ...")
            state = wait_for_ready(state_dir, 600)
            print(f"It is running (pid {state['pid']}): reusing it.\n")
            print(usage_text(state, state_dir))
            return 0
        stack = LocalStack(state_dir=state_dir, requested_port=args.port, say=_say_flush)

        def ready(state: dict[str, Any]) -> None:
            _say_flush("\n" + usage_text(state, state_dir))
            _say_flush("\nCtrl-C or `ddbstream down` stops it.")

        return serve(stack, state_dir, _say_flush, on_ready=ready)


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = state_dir_of(args.state_dir)
    state = read_state(state_dir) or {}
    if not stop_stack(state_dir):
        print(f"No local stack is running for {state_dir}.")
        return 0
    if state.get("status") == "starting":
        print(
            f"Stopped the local stack (pid {state.get('pid')}) while it was starting; the next "
            "`ddbstream up` carries on from the last saved state, if there is one."
        )
    else:
        print(
            f"Stopped the local stack (pid {state.get('pid')}); its state is saved in "
            f"{state_dir} for the next `ddbstream up`."
        )
    return 0


#: awscli v1 (the project's dev extra) sends ``aws sqs`` in us-east-1 to queue.amazonaws.com
#: whatever AWS_ENDPOINT_URL says, unless --endpoint-url is given (aws/aws-cli#8737). This shell
#: function passes it while AWS_ENDPOINT_URL is set; awscli v2 behaves the same either way.
AWS_CLI_FUNCTION = (
    'aws() { if [ -n "${AWS_ENDPOINT_URL:-}" ]; then '
    'command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; else command aws "$@"; fi; }'
)


def env_lines(state: dict[str, Any]) -> list[str]:
    env = clients.env(state["endpoint"], state.get("region", emulator.REGION))
    lines = [f"# the local stack in {state.get('state_dir', '')}".rstrip()]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    lines += [
        "export AWS_PAGER=''",
        "# awscli v1 ignores AWS_ENDPOINT_URL for `aws sqs` (aws/aws-cli#8737): pass it along",
        AWS_CLI_FUNCTION,
    ]
    return lines


def cmd_env(args: argparse.Namespace) -> int:
    state = require_running(state_dir_of(args.state_dir))
    emulator.require_loopback(str(state["endpoint"]), "point the AWS CLI")
    print("\n".join(env_lines(state)))
    return 0


def _hcl(value: Any, indent: int = 0) -> str:
    """A value as ``terraform output`` shows it."""
    pad = "  " * indent
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("${", "$${")
    if isinstance(value, list):
        if not value:
            return "[]"
        items = "".join(f"{pad}  {_hcl(v, indent + 1)},\n" for v in value)
        return f"[\n{items}{pad}]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        width = max(len(json.dumps(k)) for k in value)
        items = "".join(
            f"{pad}  {json.dumps(k):<{width}} = {_hcl(v, indent + 1)}\n" for k, v in value.items()
        )
        return f"{{\n{items}{pad}}}"
    return json.dumps(value)


def render_output(
    outputs: dict[str, dict[str, Any]], name: str | None, raw: bool, as_json: bool
) -> str:
    """What ``terraform output [-raw|-json] [NAME]`` prints for ``outputs``."""
    if name is not None and name not in outputs:
        known = ", ".join(sorted(outputs)) or "(none)"
        raise StackError(f'output "{name}" not found; the local stack\'s outputs are: {known}')
    if raw:
        if name is None:
            raise StackError("-raw needs the NAME of a single output, e.g. -raw dlq_url")
        value = outputs[name]["value"]
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value) if not isinstance(value, float) else json.dumps(value)
        raise StackError(f'output "{name}" is not a string, number or bool: use -json to print it')
    if as_json:
        if name is not None:
            return json.dumps(outputs[name]["value"], indent=2)
        return json.dumps(outputs, indent=2, sort_keys=True)
    if name is not None:
        return _hcl(outputs[name]["value"])
    return "\n".join(
        f"{k} = " + ("<sensitive>" if v.get("sensitive") else _hcl(v["value"]))
        for k, v in sorted(outputs.items())
    )


def cmd_output(args: argparse.Namespace) -> int:
    state_dir = state_dir_of(args.state_dir)
    outputs = current_outputs(state_dir)
    text = render_output(outputs, args.name, args.raw, args.json)
    # -raw prints the bare value without a newline, as terraform does (for $(...) use).
    sys.stdout.write(text if args.raw else text + "\n")
    return 0
