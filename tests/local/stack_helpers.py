"""Helpers to start, stop and drive a local stack from the tests (see conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ddbstream.local import clients, stack

VENV_BIN = Path(sys.executable).parent


def ddbstream_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ddbstream.cli", *args]


@dataclass
class LocalStackHandle:
    """What a test needs to drive the shared local stack."""

    state_dir: Path
    up_seconds: float
    up_output: str
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return str(self.state["endpoint"])

    @property
    def outputs(self) -> dict[str, Any]:
        return stack.output_values(self.state_dir)

    def env(self) -> dict[str, str]:
        """Environment for subprocesses: the venv's tools first on PATH, the stack's AWS
        variables, and DDBSTREAM_STATE_DIR so that plain `ddbstream output` finds it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(clients.env(self.endpoint, self.region))
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["DDBSTREAM_STATE_DIR"] = str(self.state_dir)
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_CONFIG_FILE"] = os.devnull
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        return env

    def ddbstream(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ddbstream_cmd(*args),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def bash(self, script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``script`` in bash after ``eval "$(ddbstream env)"``, as a user would."""
        full = 'set -euo pipefail\neval "$(ddbstream env)"\n' + script
        return subprocess.run(
            ["bash", "-c", full],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def client(self, service: str) -> Any:
        return clients.client(service, self.endpoint, region=self.region)

    @property
    def region(self) -> str:
        return str(self.state.get("region", clients.REGION))

    def refresh(self) -> None:
        state = stack.find_running(self.state_dir)
        assert state is not None, f"the local stack in {self.state_dir} is not running"
        self.state = state


def start_stack(state_dir: Path, port: int | None = None) -> tuple[dict[str, Any], float, str]:
    args = ["up", "--detach", "--state-dir", str(state_dir)]
    if port is not None:
        args += ["--port", str(port)]
    t0 = time.monotonic()
    proc = subprocess.run(ddbstream_cmd(*args), capture_output=True, text=True, timeout=600)
    took = time.monotonic() - t0
    if proc.returncode != 0:
        log = state_dir / stack.LOG_FILE
        tail = log.read_text()[-4000:] if log.exists() else ""
        pytest.fail(
            f"ddbstream up failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{tail}"
        )
    state = stack.find_running(state_dir)
    assert state is not None, proc.stdout
    return state, took, proc.stdout


def stop_stack(state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ddbstream_cmd("down", "--state-dir", str(state_dir)),
        capture_output=True,
        text=True,
        timeout=120,
    )
