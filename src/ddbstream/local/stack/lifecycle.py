"""The local stack's lifecycle in this process: start (emulator, package, terraform apply,
runtime), restore or reset the emulator's saved state, stop (and save).

Persistence across ``down``/``up`` and crashes: moto's state lives in memory; the emulator runs
as a :class:`~ddbstream.local.durable.DurableEmulator` (a snapshot once the stack is ready, every
minute while it changes and at ``down``, plus a write-ahead journal of every change since), and
the next ``up`` restores it before serving; Terraform's state and the runtime's checkpoints then
still describe what the emulator holds, the apply finds nothing (or only a code change) to do,
and the runtime resumes where it stopped. When there is no snapshot (a fresh stack that never
became ready), or it cannot be restored (another moto version, a damaged file), ``up`` says so,
starts an empty emulator, discards the old Terraform state and checkpoints, and applies from
scratch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddbstream import packaging
from ddbstream.local import emulator
from ddbstream.local import terraform as tf

from .ports import choose_port
from .progress import TerraformProgress
from .state import (
    OUTPUTS_FILE,
    RUNTIME_DIR,
    TERRAFORM_DIR,
    Say,
    StackError,
    previous_port,
    project_root,
    write_json,
)

#: Variables the local stack passes to ``terraform apply`` (on top of the stack's defaults; the
#: retry settings are AWS's defaults, so an outage rides through locally as on AWS):
#: - s3_force_destroy: a local ``terraform destroy`` may delete the audit bucket with objects.
#: - kms_key_deletion_window_days: the shortest window AWS allows; nothing is kept locally.
#: - alarm_period_seconds: 10 s (a valid CloudWatch period) instead of 60, so the local alarm
#:   loop is fast: a break fires its alarms within seconds and an alarm with one evaluation period
#:   is back to OK about 30 s (its evaluation range, 3 periods) after its metric calms down,
#:   instead of 3 minutes. The local CloudWatch keeps every datapoint at the second it was
#:   written, so each 10 s window sees its data; the evaluation is the same for any period.
LOCAL_VARIABLES: dict[str, Any] = {
    "alarm_period_seconds": 10,
    "s3_force_destroy": True,
    "kms_key_deletion_window_days": 7,
}


@dataclass
class LocalStack:
    """The local stack in this process: emulator, Terraform apply, runtime.

    ``start()`` returns once everything is ready; ``stop()`` stops the runtime, snapshots the
    emulator and stops it. Used by ``ddbstream up`` (which also writes the state file)."""

    state_dir: Path
    requested_port: int | None = None  # --port: None for the usual choice, 0 for any free one
    say: Say = print
    variables: dict[str, Any] = field(default_factory=lambda: dict(LOCAL_VARIABLES))
    endpoint: str = ""
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)
    fresh_reason: str = ""
    slowest: list[tuple[str, float]] = field(default_factory=list)
    journal_fsync: bool = True  # fsync each journaled request (power loss), not only write it
    compact_interval: float = 60.0  # seconds between snapshots while the journal grows
    replayed: int = 0  # journaled requests replayed at start (after an unclean stop)
    replay_errors: int = 0  # of those, failed by the emulator (HTTP 500 the first time too)
    _durable: Any = None  # DurableEmulator
    _emulator: Any = None
    _runtime: Any = None
    _monitoring: Any = None

    @property
    def port(self) -> int:
        """The port the emulator listens on (once started)."""
        if self._emulator is None:
            raise StackError("the local stack's emulator is not running")
        return int(self._emulator.port)

    def start(self) -> None:
        sd = self.state_dir
        sd.mkdir(parents=True, exist_ok=True)
        root = project_root()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        previous = previous_port(sd)

        # 1. The emulator, with the previous run's state when there is one.
        t0 = time.monotonic()
        self._restore_or_reset()
        self._emulator = self._durable.start(port=choose_port(self.requested_port, previous))
        self.endpoint = self._emulator.endpoint
        self.timings["emulator"] = time.monotonic() - t0
        how = (
            f"restored from the last run ({', '.join(self.restored)})" if self.restored else "empty"
        )
        if self.replayed:
            how += f"; {self.replayed} journaled request(s) replayed after an unclean stop"
            if self.replay_errors:
                how += f" ({self.replay_errors} failed in the emulator, as they did the first time)"
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
        write_json(sd / OUTPUTS_FILE, self.outputs)
        self.say(
            f"terraform  apply done: {progress.completed} resources changed "
            f"({self.timings['terraform_apply']:.1f}s)"
        )

        # 4. A fresh stack's first snapshot; from here on every change is journaled (a fresh
        # stack that crashes before this point starts afresh: it was never ready).
        t0 = time.monotonic()
        size = self._durable.begin()
        if size:
            self.timings["snapshot"] = time.monotonic() - t0
            self.say(f"snapshot   {size / 1e6:.1f} MB; journaling from now on")

        # 5. The local Lambda runtime.
        t0 = time.monotonic()
        from ddbstream.local.runtime import Runtime

        self._runtime = Runtime(
            self.endpoint, sd / RUNTIME_DIR, region=emulator.REGION, on_event=self._on_runtime
        )
        self._runtime.start()
        self.timings["runtime"] = time.monotonic() - t0
        self.say(f"runtime    running the stream mappings  ({self.timings['runtime']:.1f}s)")

        # 5. The local CloudWatch: alarm evaluation, AWS/SQS metrics, the notification inbox.
        from ddbstream.local.monitoring import LocalMonitoring

        # Both topics: change notifications (sns_topic_arn) and the alarms (alarm_topic_arn).
        out = tf.values_of(self.outputs)
        topics = [out.get("sns_topic_arn"), out.get("alarm_topic_arn")]
        self._monitoring = LocalMonitoring(
            self.endpoint, sd, [t for t in topics if t], say=self.say
        )
        self._monitoring.start()
        self.say(
            "monitoring evaluating every alarm; `ddbstream notifications` lists what both topics "
            "published (changes and alarms)"
        )

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
        """The emulator's state from the last run (snapshot + journal), else an empty one and
        the Terraform state and checkpoints that described the old one discarded."""
        from ddbstream.local.durable import DurableEmulator

        sd = self.state_dir
        had_state = (sd / TERRAFORM_DIR).exists() or (sd / RUNTIME_DIR).exists()
        self._durable = DurableEmulator(
            sd, fsync=self.journal_fsync, compact_interval=self.compact_interval, say=self.say
        )
        if self._durable.restore():
            self.restored = self._durable.restored
            self.replayed = self._durable.replayed
            self.replay_errors = self._durable.replay_errors
            return
        if self._durable.fresh_reason:
            self.fresh_reason = (
                f"{self._durable.fresh_reason}: starting empty, re-applying Terraform from scratch"
            )
        elif had_state:
            self.fresh_reason = (
                "no saved emulator state (the last run stopped before it was ready): starting "
                "empty, re-applying Terraform from scratch"
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
        """Stop the runtime, then the emulator (it stops accepting requests and finishes the
        ones in progress), then save its state (``save``) and empty its journal.

        Without ``save`` (a start abandoned half-way) the snapshot and journal on disk stay as
        they are: the next ``up`` restores them, or starts afresh if there were none."""
        from ddbstream.local import snapshot

        if self._monitoring is not None:
            try:
                self._monitoring.stop()
            finally:
                self._monitoring = None
        if self._runtime is not None:
            try:
                self._runtime.stop()
            finally:
                self._runtime = None
        self._emulator = None
        if self._durable is None:
            return
        try:
            size = self._durable.stop(save=save)
            if size is not None:
                self.say(f"saved the emulator's state ({size / 1e6:.1f} MB)")
        except snapshot.SnapshotError as exc:
            self.say(f"could not save the emulator's state ({exc}); its journal is kept")


def _short(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
