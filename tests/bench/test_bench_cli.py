"""The benchmark scripts' command lines: `--help` explains, a bad value is one line and exit 2
(never a traceback, never a benchmark run with a value it cannot use)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("script", ["run.py", "audit_bench.py"])
def test_help_explains_and_runs_nothing(script: str) -> None:
    done = _run(script, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: bench/{script}") and "make bench" in done.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--runs", "x"], "--runs: 'x'"),
        (["--runs", "-3"], "--runs: -3"),
        (["--batch-size", "0"], "--batch-size: 0"),
        (["--memory-mb", "64"], "--memory-mb: 64 is not a Lambda memory size"),
        (["--s3-ms", "-1"], "--s3-ms: -1"),
        (["--e2e-rate", "0"], "--e2e-rate: 0"),
        (["--only", "bogus"], "--only: invalid choice: 'bogus'"),
    ],
)
def test_a_bad_argument_is_one_line(args: list[str], named: str) -> None:
    done = _run("run.py", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and named in done.stderr, done.stderr
