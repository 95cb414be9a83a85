"""`ddbstream audit` from the command line without a stack: help, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def ddbstream(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ddbstream.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    "verb",
    [
        ["query", "SELECT 1"],
        ["history", "UserId=u1"],
        ["as-of", "now"],
        ["tail"],
    ],
)
def test_no_stack_up_is_a_one_line_error(verb: list[str], tmp_path: Path) -> None:
    out = ddbstream("audit", *verb, "--state-dir", str(tmp_path))
    assert out.returncode != 0
    assert out.stderr.startswith("ddbstream: ") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr
    assert out.stdout == ""


def test_bad_arguments_are_named_before_any_stack_is_needed(tmp_path: Path) -> None:
    out = ddbstream("audit", "as-of", "yesterday", "--state-dir", str(tmp_path))
    assert out.returncode == 1
    assert "TIMESTAMP 'yesterday': not a time" in out.stderr
    out = ddbstream("audit", "history", "UserId", "--state-dir", str(tmp_path))
    assert out.returncode == 1 and "NAME=VALUE" in out.stderr
    out = ddbstream("audit", "query", "SELECT 1", "--since", "soon", "--state-dir", str(tmp_path))
    assert out.returncode == 1 and "--since 'soon': not a time" in out.stderr


def test_help_names_the_views_and_the_verbs() -> None:
    out = ddbstream("audit", "--help")
    assert out.returncode == 0
    for verb in ("query", "history", "as-of", "tail"):
        assert verb in out.stdout
    q = ddbstream("audit", "query", "--help").stdout
    assert "changes_raw" in q and "deduplicated by event_id" in q and "--csv" in q
