"""The local stack: ``ddbstream up``, ``down``, ``env`` and ``output``.

``up`` starts moto's server in this process on a loopback port, builds the Lambda package, runs
``terraform apply`` of ``terraform/`` against the emulator with a local state kept in the state
directory (default ``.ddbstream/`` in the project: a local run never reads or writes a real
deployment's state), then starts the local Lambda runtime, which runs the event source mappings
that Terraform created. It serves until Ctrl-C or ``ddbstream down``.

Files in the state directory::

    stack.json        the running stack: pid, endpoint, status, timings (removed on exit)
    outputs.json      Terraform outputs of the last apply, as ``terraform output -json``
    emulator.pickle   the emulator's state, saved on exit and restored by the next ``up``
    up.lock           held (flock) by the process serving the stack, for as long as it runs
    up.log            the log of a ``up --detach`` child
    last-port         the emulator's port in the last run, which the next ``up`` prefers
    terraform/        Terraform's working directory and local state (the terraform driver)
    runtime/          the local runtime's checkpoints

Persistence across ``down``/``up``: moto's state lives in memory, so ``down`` pickles it
(:mod:`ddbstream.local.snapshot`) and the next ``up`` restores it before serving; Terraform's
state and the runtime's checkpoints then still describe what the emulator holds, the apply finds
nothing (or only a code change) to do, and the runtime resumes where it stopped. When there is no
snapshot, or it cannot be restored (another moto version, a damaged file), ``up`` says so, starts
an empty emulator, discards the old Terraform state and checkpoints, and applies from scratch.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddbstream import packaging
from ddbstream.errors import UserError
from ddbstream.local import clients, emulator
from ddbstream.local import terraform as tf

DEFAULT_PORT = 4566
STATE_FILE = "stack.json"
OUTPUTS_FILE = "outputs.json"
SNAPSHOT_FILE = "emulator.pickle"
LOCK_FILE = "up.lock"
LOG_FILE = "up.log"
PORT_FILE = "last-port"
TERRAFORM_DIR = "terraform"
RUNTIME_DIR = "runtime"

#: Variables the local stack passes to ``terraform apply`` (on top of the stack's defaults).
#: - maximum_retry_attempts: a failing batch reaches the DLQ after 2 retries instead of 3, so
#:   the seed's error-handling test finishes sooner; the behaviour is the same.
#: - s3_force_destroy: a local ``terraform destroy`` may delete the audit bucket with objects.
#: - kms_key_deletion_window_days: the shortest window AWS allows; nothing is kept locally.
LOCAL_VARIABLES: dict[str, Any] = {
    "maximum_retry_attempts": 2,
    "s3_force_destroy": True,
    "kms_key_deletion_window_days": 7,
}

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
_DETACHED_ENV = "DDBSTREAM_UP_DETACHED"


class StackError(UserError):
    """The local stack cannot do what was asked; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------
# Where things are
# ---------------------------------------------------------------------------------------------


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
    if arg:
        return Path(arg).expanduser().resolve()
    env = os.environ.get("DDBSTREAM_STATE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return project_root() / ".ddbstream"


# ---------------------------------------------------------------------------------------------
# The state file and the health of a running stack
# ---------------------------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child, not yet reaped) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def endpoint_healthy(endpoint: str, timeout: float = 2.0) -> bool:
    """True when the emulator answers HTTP at ``endpoint``."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=timeout) as resp:
            return 200 <= resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def lock_held(state_dir: Path) -> bool:
    """True when a process holds the state directory's ``up`` lock (a stack runs or starts)."""
    path = state_dir / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def find_running(state_dir: Path) -> dict[str, Any] | None:
    """The state of the stack serving from ``state_dir``, if it is ready and answers."""
    state = read_state(state_dir)
    if not state or state.get("status") != "ready":
        return None
    if not pid_alive(int(state.get("pid", 0))) or not endpoint_healthy(state["endpoint"]):
        return None
    return state


def require_running(state_dir: Path) -> dict[str, Any]:
    state = find_running(state_dir)
    starting = read_state(state_dir) or {}
    if state is None and starting.get("status") == "starting" and lock_held(state_dir):
        raise StackError(
            f"the local stack in {state_dir} is still starting (pid {starting.get('pid')}): "
            "try again once `ddbstream up` says it is ready"
        )
    if state is None:
        raise StackError(
            f"no local stack is running for the state directory {state_dir}: start one with "
            f"`ddbstream up` (or `ddbstream up --detach`){state_dir_flag(state_dir)}"
        )
    return state


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


# ---------------------------------------------------------------------------------------------
# Progress while Terraform works
# ---------------------------------------------------------------------------------------------


def _seconds(took: str) -> float:
    """Terraform's "1m5s" / "25s" / "500ms" as seconds (0 when unreadable)."""
    import re

    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", took):
        total += float(value) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


#: Terraform's "<address>: <verb> complete after 5s" lines, and what they say happened.
_COMPLETED = {"Creation": "created", "Modifications": "updated", "Destruction": "destroyed"}


class TerraformProgress:
    """Turns Terraform's output into short progress lines: each resource as it completes, with
    the elapsed time, and a heartbeat while a resource takes long."""

    def __init__(self, say: Say, started: float | None = None) -> None:
        self.say = say
        self.started = started if started is not None else time.monotonic()
        self.completed = 0
        self.durations: dict[str, float] = {}  # resource -> seconds Terraform reported
        self.errors: list[str] = []
        self._in_error = False
        self._last_heartbeat = 0.0

    def __call__(self, line: str) -> None:
        line = line.rstrip()
        text = line.strip("│╷╵ ").strip()
        elapsed = time.monotonic() - self.started
        if ": Read complete" in text:  # a data source: not a change
            return
        for verb, action in _COMPLETED.items():
            marker = f": {verb} complete"
            if marker in text:
                res, rest = text.split(marker, 1)
                took = rest.split("after", 1)[1].split("[", 1)[0].strip() if "after" in rest else ""
                self.completed += 1
                self.durations[res] = _seconds(took)
                self.say(f"  [{elapsed:5.1f}s] {action:9} {res}" + (f" ({took})" if took else ""))
                return
        if "Still creating..." in text or "Still modifying..." in text:
            if elapsed - self._last_heartbeat >= 10:
                self._last_heartbeat = elapsed
                res = text.split(":", 1)[0]
                self.say(f"  [{elapsed:5.1f}s] waiting   {res} ...")
            return
        if text.startswith("Apply complete!") or text.startswith("No changes."):
            self.say(f"  [{elapsed:5.1f}s] {text}")
            return
        if text.startswith("Error:"):
            self._in_error = True
        if self._in_error and text:
            self.errors.append(text)
            self.say(f"  terraform: {text}")


# ---------------------------------------------------------------------------------------------
# The stack, in process
# ---------------------------------------------------------------------------------------------


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(requested: int | None, previous: int | None) -> int:
    """``requested`` (0: any free port) or, by default, the port of the previous run (its URLs
    are in the restored state), else 4566, else any free port."""
    if requested is not None:
        if requested == 0:
            return emulator.free_port()
        if not _port_free(requested):
            raise StackError(f"port {requested} is in use: choose another with --port")
        return requested
    for candidate in (previous, DEFAULT_PORT):
        if candidate and _port_free(candidate):
            return candidate
    return emulator.free_port()


@dataclass
class LocalStack:
    """The local stack in this process: emulator, Terraform apply, runtime.

    ``start()`` returns once everything is ready; ``stop()`` stops the runtime, snapshots the
    emulator and stops it. Used by ``ddbstream up`` (which also writes the state file)."""

    state_dir: Path
    port: int | None = None
    say: Say = print
    variables: dict[str, Any] = field(default_factory=lambda: dict(LOCAL_VARIABLES))
    endpoint: str = ""
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)
    fresh_reason: str = ""
    slowest: list[tuple[str, float]] = field(default_factory=list)
    _emulator: Any = None
    _runtime: Any = None

    def start(self) -> None:
        sd = self.state_dir
        sd.mkdir(parents=True, exist_ok=True)
        root = project_root()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        previous = _previous_port(sd)

        # 1. The emulator, with the previous run's state when there is one.
        t0 = time.monotonic()
        self._restore_or_reset()
        self._emulator = emulator.start(port=choose_port(self.port, previous))
        self.endpoint = self._emulator.endpoint
        self.timings["emulator"] = time.monotonic() - t0
        how = (
            f"restored from the last run ({', '.join(self.restored)})" if self.restored else "empty"
        )
        self.say(f"emulator   {self.endpoint}  ({how}, {self.timings['emulator']:.1f}s)")
        if self.fresh_reason:
            self.say(f"           {self.fresh_reason}")

        # 2. The Lambda package.
        t0 = time.monotonic()
        zip_path = packaging.build(root / packaging.DEFAULT_OUTPUT).path  # `ddbstream package`
        self.timings["package"] = time.monotonic() - t0
        self.say(f"package    {_short(zip_path, root)}  ({self.timings['package']:.1f}s)")

        # 3. terraform init + apply against the emulator, with the local state. The package path
        # is passed explicitly: the stack's default is relative to its own directory, and the
        # working directory lives in the state directory.
        self.variables.setdefault("lambda_package_path", str(zip_path))
        workdir = sd / TERRAFORM_DIR
        t0 = time.monotonic()
        try:
            tf.prepare_workdir(workdir, self.endpoint, self.variables)
            tf.init(workdir)
        except Exception as exc:  # the driver's TerraformError carries Terraform's own message
            raise StackError(f"terraform init failed: {exc}") from exc
        self.timings["terraform_init"] = time.monotonic() - t0
        shown = ", ".join(
            f"{k}={json.dumps(v)}" for k, v in self.variables.items() if k != "lambda_package_path"
        )
        self.say(f"terraform  init ({self.timings['terraform_init']:.1f}s); apply with {shown}")
        t0 = time.monotonic()
        progress = TerraformProgress(self.say, started=t0)
        try:
            self.outputs = tf.apply(workdir, on_line=progress)  # the workdir as prepared above
        except Exception as exc:
            raise StackError(
                f"terraform apply failed: {exc}\n" + "\n".join(progress.errors[-20:])
            ) from exc
        self.timings["terraform_apply"] = time.monotonic() - t0
        self.slowest = sorted(progress.durations.items(), key=lambda kv: -kv[1])[:3]
        _write_json(sd / OUTPUTS_FILE, self.outputs)
        self.say(
            f"terraform  apply done: {progress.completed} resources changed "
            f"({self.timings['terraform_apply']:.1f}s)"
        )

        # 4. The local Lambda runtime.
        t0 = time.monotonic()
        from ddbstream.local.runtime import Runtime

        self._runtime = Runtime(
            self.endpoint, sd / RUNTIME_DIR, region=emulator.REGION, on_event=self._on_runtime
        )
        self._runtime.start()
        self.timings["runtime"] = time.monotonic() - t0
        self.say(f"runtime    running the stream mappings  ({self.timings['runtime']:.1f}s)")

    def _on_runtime(self, ev: dict[str, Any]) -> None:
        """One line per runtime event worth seeing (invocations, failures, discards)."""
        kind = ev.get("type")
        clock = time.strftime("%H:%M:%S")
        if kind == "invoke":
            err = f"  ERROR {ev['error']}" if ev.get("error") else ""
            self.say(
                f"{clock} invoke  {ev.get('function')}: {ev.get('batch_size')} record(s), "
                f"{ev.get('duration_ms')} ms{err}"
            )
        elif kind == "discard":
            self.say(
                f"{clock} discard {ev.get('batch_size')} record(s) ({ev.get('condition')}) -> "
                f"{ev.get('destination') or 'no destination'}"
            )
        elif kind in ("error", "mapping-started", "mapping-stopped"):
            detail = ev.get("message") or ev.get("reason") or ""
            self.say(f"{clock} {kind} {ev.get('mapping')} {detail}".rstrip())

    def _restore_or_reset(self) -> None:
        from ddbstream.local import snapshot

        sd = self.state_dir
        snap = sd / SNAPSHOT_FILE
        had_state = (sd / TERRAFORM_DIR).exists() or (sd / RUNTIME_DIR).exists()
        if snap.exists():
            try:
                emulator.patch_moto()
                self.restored = snapshot.load(snap)
                # Consumed: if this run ends without saving (a crash, kill -9), the next `up`
                # must not restore an emulator older than Terraform's state and the checkpoints.
                os.replace(snap, snap.with_suffix(".pickle.previous"))
                return
            except Exception as exc:  # SnapshotError, or moto refusing what it unpickled
                self.fresh_reason = (
                    f"the saved emulator state could not be restored ({exc}): starting empty, "
                    "re-applying Terraform from scratch"
                )
                snap.rename(snap.with_suffix(".pickle.unusable"))
        elif had_state:
            self.fresh_reason = (
                "no saved emulator state (the last run did not stop cleanly): starting empty, "
                "re-applying Terraform from scratch"
            )
        # Fresh emulator: the old Terraform state and the runtime's checkpoints describe
        # resources and stream positions that no longer exist.
        for stale in ("terraform.tfstate", "terraform.tfstate.backup"):
            with contextlib.suppress(FileNotFoundError):
                (sd / TERRAFORM_DIR / stale).unlink()
        shutil.rmtree(sd / RUNTIME_DIR, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (sd / OUTPUTS_FILE).unlink()

    def stop(self, save: bool = True) -> None:
        """Stop the runtime, save the emulator's state (when ``save``), stop the emulator."""
        from ddbstream.local import snapshot

        if self._runtime is not None:
            try:
                self._runtime.stop()
            finally:
                self._runtime = None
        if self._emulator is not None:
            try:
                if save:
                    try:
                        size = snapshot.save(self.state_dir / SNAPSHOT_FILE)
                        self.say(f"saved the emulator's state ({size / 1e6:.1f} MB)")
                    except snapshot.SnapshotError as exc:
                        self.say(f"could not save the emulator's state: {exc}")
            finally:
                self._emulator.stop()
                self._emulator = None


def _short(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _previous_port(state_dir: Path) -> int | None:
    try:
        return int(json.loads((state_dir / PORT_FILE).read_text()))
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _up_lock(state_dir: Path) -> Iterator[bool]:
    """Holds the state directory's lock; yields False when another process holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / LOCK_FILE, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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


def _wait_for_ready(
    state_dir: Path,
    timeout: float,
    child: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    say: Say | None = None,
) -> dict[str, Any]:
    """Wait until the stack in ``state_dir`` is ready, echoing its log as it grows."""
    deadline = time.monotonic() + timeout
    pos = 0
    while True:
        if log is not None and say is not None and log.exists():
            with open(log, errors="replace") as f:
                f.seek(pos)
                chunk = f.read()
                pos = f.tell()
            for line in chunk.splitlines():
                say(line)
        state = find_running(state_dir)
        if state is not None and (child is None or state.get("pid") == child.pid):
            return state
        if child is not None and child.poll() is not None:
            raise StackError(
                f"`ddbstream up` stopped with exit code {child.returncode} before the stack was "
                f"ready; its log: {log}"
            )
        if child is None and not lock_held(state_dir):
            raise StackError(
                f"the `ddbstream up` starting in {state_dir} stopped before it was ready"
            )
        if time.monotonic() > deadline:
            raise StackError(f"the local stack was not ready after {timeout:.0f}s; see {log}")
        time.sleep(0.2)


def start_detached(
    state_dir: Path, port: int | None = None, say: Say = print, timeout: float = 600.0
) -> tuple[dict[str, Any], bool]:
    """Make sure a stack serves from ``state_dir``: reuse one, or start ``ddbstream up`` in the
    background and wait until it is ready. Returns (state, started)."""
    state = find_running(state_dir)
    if state is not None:
        return state, False
    state_dir.mkdir(parents=True, exist_ok=True)
    if lock_held(state_dir):  # another `up` is starting: wait for it
        say(f"a local stack is starting in {state_dir}: waiting for it")
        return _wait_for_ready(state_dir, timeout), False
    log = state_dir / LOG_FILE
    cmd = [sys.executable, "-m", "ddbstream.cli", "up", "--state-dir", str(state_dir)]
    if port is not None:
        cmd += ["--port", str(port)]
    with open(log, "wb") as logf:
        child = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", _DETACHED_ENV: "1"},
        )
    state = _wait_for_ready(state_dir, timeout, child=child, log=log, say=say)
    return state, True


def _children() -> list[int]:
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.append(int(entry.name))
    return found


def _end_children(grace: float = 5.0) -> None:
    """Stop this process's child processes (a terraform run), politely then firmly."""
    kids = _children()
    for pid in kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while kids and time.monotonic() < deadline:
        kids = [p for p in kids if pid_alive(p)]
        time.sleep(0.1)
    for pid in kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _serve(stack: LocalStack, state_dir: Path, say: Say) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        if state["status"] == "starting":  # abandon the start: nothing is saved
            raise KeyboardInterrupt

    state: dict[str, Any] = {
        "pid": os.getpid(),
        "status": "starting",
        "started_at": time.time(),
        "state_dir": str(state_dir),
    }
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    _write_json(state_dir / STATE_FILE, state)
    t0 = time.monotonic()
    try:
        try:
            stack.start()
        except BaseException as exc:
            _end_children()  # a terraform apply that was under way
            stack.stop(save=False)
            if isinstance(exc, KeyboardInterrupt):
                say(
                    "interrupted while starting: stopped, nothing saved "
                    "(the next `up` starts afresh)"
                )
                return 130
            raise
        (state_dir / PORT_FILE).write_text(json.dumps(stack._emulator.port))
        state.update(
            status="ready",
            endpoint=stack.endpoint,
            port=stack._emulator.port,
            region=emulator.REGION,
            timings={**stack.timings, "total": time.monotonic() - t0},
            slowest_resources=stack.slowest,
            restored=stack.restored,
            variables=stack.variables,
        )
        _write_json(state_dir / STATE_FILE, state)
        say(f"ready in {time.monotonic() - t0:.1f}s (pid {os.getpid()})")
        if not os.environ.get(_DETACHED_ENV):  # the detached parent prints its own
            say("\n" + usage_text(state, state_dir))
            say("\nCtrl-C or `ddbstream down` stops it.")
        while not stop.wait(1.0):
            pass
        say("stopping the local stack ...")
        state["status"] = "stopping"
        _write_json(state_dir / STATE_FILE, state)
        stack.stop(save=True)
        say("stopped")
        return 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        with contextlib.suppress(FileNotFoundError):
            (state_dir / STATE_FILE).unlink()


def _say_flush(text: str) -> None:
    print(text, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = state_dir_of(args.state_dir)
    running = find_running(state_dir)
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
    with _up_lock(state_dir) as mine:
        if not mine:
            print(f"A local stack is starting in {state_dir}: waiting for it ...")
            state = _wait_for_ready(state_dir, 600)
            print(f"It is running (pid {state['pid']}): reusing it.\n")
            print(usage_text(state, state_dir))
            return 0
        stack = LocalStack(state_dir=state_dir, port=args.port, say=_say_flush)
        return _serve(stack, state_dir, _say_flush)


# ---------------------------------------------------------------------------------------------
# down
# ---------------------------------------------------------------------------------------------


def stop_stack(state_dir: Path, timeout: float = 150.0, say: Say = print) -> bool:
    """Signal the stack serving from ``state_dir`` and wait for it to exit. False: none ran."""
    state = read_state(state_dir)
    if not state or not pid_alive(int(state.get("pid", 0))):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / STATE_FILE).unlink()
        return False
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) or lock_held(state_dir):
        if time.monotonic() > deadline:
            raise StackError(f"the local stack (pid {pid}) did not stop within {timeout:.0f}s")
        time.sleep(0.1)
    return True


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = state_dir_of(args.state_dir)
    state = read_state(state_dir) or {}
    if not stop_stack(state_dir):
        print(f"No local stack is running for {state_dir}.")
        return 0
    if state.get("status") == "starting":
        print(
            f"Stopped the local stack (pid {state.get('pid')}) while it was starting; "
            "nothing was saved, the next `ddbstream up` starts afresh."
        )
    else:
        print(
            f"Stopped the local stack (pid {state.get('pid')}); its state is saved in "
            f"{state_dir} for the next `ddbstream up`."
        )
    return 0


# ---------------------------------------------------------------------------------------------
# env, output
# ---------------------------------------------------------------------------------------------


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
    outputs = read_outputs(state_dir_of(args.state_dir))
    text = render_output(outputs, args.name, args.raw, args.json)
    # -raw prints the bare value without a newline, as terraform does (for $(...) use).
    sys.stdout.write(text if args.raw else text + "\n")
    return 0
