"""The local stack's lifecycle in this process: start (emulator, package, terraform apply,
runtime), restore or reset the emulator's saved state, stop (and save).

Persistence across ``down``/``up``: moto's state lives in memory, so ``down`` pickles it
(:mod:`ddbstream.local.snapshot`) and the next ``up`` restores it before serving; Terraform's
state and the runtime's checkpoints then still describe what the emulator holds, the apply finds
nothing (or only a code change) to do, and the runtime resumes where it stopped. When there is no
snapshot, or it cannot be restored (another moto version, a damaged file), ``up`` says so, starts
an empty emulator, discards the old Terraform state and checkpoints, and applies from scratch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
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
    SNAPSHOT_FILE,
    TERRAFORM_DIR,
    Say,
    StackError,
    previous_port,
    project_root,
    write_json,
)

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
    _emulator: Any = None
    _runtime: Any = None

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
        self._emulator = emulator.start(port=choose_port(self.requested_port, previous))
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
        write_json(sd / OUTPUTS_FILE, self.outputs)
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
