"""The command line: every known failure is one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ddbstream import cli
from ddbstream.errors import UserError
from ddbstream.local import clients, emulator


def _with_verb(monkeypatch: pytest.MonkeyPatch, run: object) -> None:
    """Make `ddbstream x` run ``run``."""

    def build() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="ddbstream")
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("x").set_defaults(run=run)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)


def test_a_user_error_is_one_line_with_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise UserError("--burst -5: must be 0 or more\n(second line)", exit_code=2)

    _with_verb(monkeypatch, fail)
    assert cli.main(["x"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "ddbstream: --burst -5: must be 0 or more (second line)\n"
    assert captured.out == ""


def test_an_unreachable_endpoint_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = emulator.free_port()  # nothing listens there

    def call(args: argparse.Namespace) -> int:
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": 1}, connect_timeout=1)
        clients.client("s3", f"http://127.0.0.1:{port}", config=cfg).list_buckets()
        return 0

    _with_verb(monkeypatch, call)
    assert cli.main(["x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ddbstream: Could not connect to the endpoint URL")
    assert str(port) in err and err.count("\n") == 1


def test_missing_credentials_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def call(args: argparse.Namespace) -> int:
        import boto3

        boto3.session.Session(region_name="us-east-1").client("sqs").list_queues()
        return 0

    _with_verb(monkeypatch, call)
    assert cli.main(["x"]) == 1
    assert capsys.readouterr().err == "ddbstream: Unable to locate credentials\n"


def test_an_unexpected_error_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("a bug")

    _with_verb(monkeypatch, bug)
    with pytest.raises(ZeroDivisionError):
        cli.main(["x"])


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    _with_verb(monkeypatch, interrupted)
    assert cli.main(["x"]) == 130


def test_help_lists_every_verb_and_stays_fast() -> None:
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "ddbstream.cli", "--help"], capture_output=True, text=True
    )
    took = time.monotonic() - t0
    assert proc.returncode == 0
    for verb in ("package", "up", "down", "env", "output", "demo", "handler-demo"):
        assert verb in proc.stdout
    # --help imports no verb's module (no boto3, no moto): well under the second moto takes.
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ddbstream import cli; cli.build_parser(); heavy = ('boto', "
            "'moto', 'ddbstream.local'); print(sorted(m for m in sys.modules if "
            "m.startswith(heavy)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == "[]", check.stdout
    assert took < 10, took


def test_a_stack_verb_without_a_stack_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["env", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ddbstream: no local stack is running") and err.count("\n") == 1
