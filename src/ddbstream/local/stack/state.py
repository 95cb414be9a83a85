"""The state directory of a local stack: where it is, its files, what they say.

Files in the state directory::

    stack.json        the running stack: pid, endpoint, status, timings (removed on exit)
    outputs.json      Terraform outputs of the last apply, as ``terraform output -json``
    emulator.pickle   the emulator's state: saved when the stack is ready, every minute while
                      it changes, and on exit; restored by the next ``up``
    emulator.journal  every state-changing request since that snapshot, on disk before it is
                      answered; replayed by the next ``up`` (see ddbstream.local.journal)
    up.lock           held (flock) by the process serving the stack, for as long as it runs
    up.log            the log of a ``up --detach`` child
    last-port         the emulator's port in the last run, which the next ``up`` prefers
    terraform/        Terraform's working directory and local state (the terraform driver)
    runtime/          the local runtime's checkpoints
    notifications.jsonl  what the stack's SNS topic published, drained from the stack's inbox
                      queue (``ddbstream notifications``; :mod:`ddbstream.local.monitoring.inbox`)
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ddbstream.errors import UserError
from ddbstream.local import terraform as tf
from ddbstream.local.durable import JOURNAL_FILE as JOURNAL_FILE
from ddbstream.local.durable import SNAPSHOT_FILE as SNAPSHOT_FILE

DEFAULT_PORT = 4566
STATE_FILE = "stack.json"
OUTPUTS_FILE = "outputs.json"
LOCK_FILE = "up.lock"
LOG_FILE = "up.log"
PORT_FILE = "last-port"
TERRAFORM_DIR = "terraform"
RUNTIME_DIR = "runtime"
#: The Terraform outputs the seed README's walkthrough (and ``ddbstream demo``) read with
#: ``output -raw NAME``: terraform/outputs.tf keeps them by these names.
WALKTHROUGH_OUTPUTS: tuple[str, ...] = (
    "dynamodb_table_name",
    "lambda_log_group_name",
    "s3_bucket_name",
    "dlq_url",
    "lambda_function_name",
    "sns_topic_arn",
)
Say = Callable[[str], None]


class StackError(UserError):
    """The local stack cannot do what was asked; the message says why and what to do."""


def project_root() -> Path:
    """The checkout holding ``terraform/`` (one rule for the whole local stack: see
    :func:`ddbstream.local.terraform.project_root`)."""
    try:
        return tf.project_root()
    except tf.TerraformError as exc:
        raise StackError(
            "cannot find the project (a directory with terraform/versions.tf): run ddbstream "
            "from the ddbstream checkout, or install it in editable mode from there"
        ) from exc


def state_dir_of(arg: str | os.PathLike[str] | None) -> Path:
    """The state directory: ``arg`` (--state-dir), else $DDBSTREAM_STATE_DIR, else the
    project's ``.ddbstream/``. A path that exists and is not a directory is refused."""
    if arg:
        found, source = Path(arg).expanduser().resolve(), "--state-dir"
    elif os.environ.get("DDBSTREAM_STATE_DIR"):
        found = Path(os.environ["DDBSTREAM_STATE_DIR"]).expanduser().resolve()
        source = "DDBSTREAM_STATE_DIR"
    else:
        found, source = project_root() / ".ddbstream", "the state directory"
    if found.exists() and not found.is_dir():
        raise StackError(f"{source} {found}: not a directory")
    return found


def writable_state_dir(state_dir: Path) -> Path:
    """``state_dir``, created if missing; a StackError when it cannot be created or written."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StackError(f"state directory {state_dir}: cannot create it ({exc.strerror})") from exc
    if not os.access(state_dir, os.W_OK | os.X_OK):
        raise StackError(f"state directory {state_dir}: not writable")
    return state_dir


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The state file, or None when missing or unreadable (a damaged file names no stack)."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        data["pid"] = int(data.get("pid", 0))
    except (TypeError, ValueError):
        return None
    return data


def state_dir_flag(state_dir: Path) -> str:
    """`` --state-dir DIR`` for the commands shown to the user; empty for the default one."""
    try:
        default: Path | None = project_root() / ".ddbstream"
    except StackError:
        default = None
    return "" if state_dir == default else f" --state-dir {shlex.quote(str(state_dir))}"


def read_outputs(state_dir: Path) -> dict[str, dict[str, Any]]:
    """Terraform outputs of the last local apply, in ``terraform output -json`` form."""
    try:
        data = json.loads((state_dir / OUTPUTS_FILE).read_text())
    except FileNotFoundError:
        raise StackError(
            f"the local stack has no outputs yet in {state_dir}: run `ddbstream up` first"
        ) from None
    except (OSError, ValueError) as exc:
        raise StackError(f"cannot read {state_dir / OUTPUTS_FILE}: {exc}") from exc
    return data  # type: ignore[no-any-return]


def output_values(state_dir: Path) -> dict[str, Any]:
    return tf.values_of(read_outputs(state_dir))


def previous_port(state_dir: Path) -> int | None:
    try:
        return int(json.loads((state_dir / PORT_FILE).read_text()))
    except (OSError, ValueError):
        return None


def refresh_endpoint_urls(values: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """Outputs whose URLs point at an earlier run's emulator port, pointed at ``endpoint``.

    The local stack's outputs are saved at apply time; an ``up`` that had to move to another
    port serves the same resources at a new address (queue URLs carry the host and port)."""
    now = urlsplit(endpoint)
    loopback = {"127.0.0.1", "localhost", now.hostname}
    fixed: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            url = urlsplit(value)
            if url.hostname in loopback and url.netloc != now.netloc:
                value = urlunsplit((now.scheme, now.netloc, url.path, url.query, url.fragment))
        fixed[name] = value
    return fixed
