"""Bad input to the stack's verbs: one line naming the problem, a non-zero exit, no traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ddbstream import cli
from ddbstream.local import stack


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["up", "--port", "99999"], "argument --port: 99999 is not a port (0-65535"),
        (["up", "--port", "-5"], "argument --port: -5 is not a port"),
        (["up", "--port", "http"], "argument --port: 'http' is not a whole number"),
        (["demo", "--burst", "-5"], "argument --burst: -5 is negative"),
        (["output", "-raw", "x", "--nope"], "unrecognized arguments: --nope"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        # terraform output refuses both too (found: -raw -json printed the raw value)
        (["output", "-raw", "-json", "x"], "argument -json/--json: not allowed with argument"),
        # found: -n -1 printed the whole log, --interval -1 was a traceback after the first
        # screen, --interval 0 polls the bucket without a pause
        (["audit", "tail", "-n", "-1"], "argument -n/--lines: -1 is negative"),
        (["audit", "tail", "-f", "--interval", "-1"], "argument --interval: -1 is not more than 0"),
        (["audit", "tail", "-f", "--interval", "0"], "argument --interval: 0 is not more than 0"),
        (["audit", "tail", "-f", "--interval", "x"], "argument --interval: 'x' is not a number"),
        (["audit", "tail", "-f", "--stop-after", "0"], "argument --stop-after: 0 is not 1 or more"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = _one_line(capsys)
    assert expected in err and err.startswith("ddbstream")


@pytest.mark.parametrize("verb", ["up", "down", "env", "output", "demo"])
def test_a_state_dir_that_is_a_file(
    verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "file"
    f.write_text("")
    assert cli.main([verb, "--state-dir", str(f)]) == 1
    assert f"ddbstream: --state-dir {f}: not a directory" in _one_line(capsys)


def test_a_state_dir_that_cannot_be_created(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["up", "--state-dir", "/proc/ddbstream-no-such/state"]) == 1
    assert "cannot create it" in _one_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_state_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tmp_path.chmod(0o555)
    try:
        assert cli.main(["up", "--state-dir", str(tmp_path)]) == 1
        assert "not writable" in _one_line(capsys)
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize(
    "content", ["{not json", '{"pid": "abc", "status": "ready"}', '{"pid": 0}']
)
def test_a_damaged_state_file_names_no_stack(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pid of 0 would signal our own process group: it must never be taken for a stack."""
    (tmp_path / stack.STATE_FILE).write_text(content)
    assert stack.find_running(tmp_path) is None
    assert cli.main(["down", "--state-dir", str(tmp_path)]) == 0
    assert "No local stack is running" in capsys.readouterr().out


def test_a_live_pid_without_the_lock_is_not_signalled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stale state file whose pid now belongs to another process (here: this one)."""
    state = {"pid": os.getpid(), "status": "ready", "endpoint": "http://127.0.0.1:9"}
    (tmp_path / stack.STATE_FILE).write_text(json.dumps(state))
    assert cli.main(["down", "--state-dir", str(tmp_path)]) == 0  # and we are still here
    assert "No local stack is running" in capsys.readouterr().out


def test_output_follows_the_stack_to_its_new_port(
    tmp_path: Path, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outputs saved when the stack ran on 4566; it now runs elsewhere: URLs follow it."""
    state = {"pid": os.getpid(), "status": "ready", "endpoint": moto_endpoint}
    (tmp_path / stack.STATE_FILE).write_text(json.dumps(state))
    outputs = {"dlq_url": {"value": "http://127.0.0.1:4566/123456789012/dlq", "type": "string"}}
    (tmp_path / stack.OUTPUTS_FILE).write_text(json.dumps(outputs))
    assert cli.main(["output", "-raw", "dlq_url", "--state-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"{moto_endpoint}/123456789012/dlq"


def test_package_into_a_path_under_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "file"
    f.write_text("")
    assert cli.main(["package", "-o", str(f / "x.zip")]) == 1
    assert str(f) in _one_line(capsys)


def _verbs(parser: object, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every leaf verb of the command line (``("dlq", "replay")``...) with its parser."""
    import argparse

    found: list[tuple[tuple[str, ...], object]] = []
    for action in getattr(parser, "_actions", []):
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _verbs(sub, (*prefix, name))
    return found or [(prefix, parser)]


def test_every_verb_taking_a_state_dir_refuses_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever adds a verb: a state directory that is a file is one line and a non-zero exit."""
    f = tmp_path / "file"
    f.write_text("")
    checked = []
    for words, parser in _verbs(cli.build_parser()):
        options = {s for a in getattr(parser, "_actions", []) for s in a.option_strings}
        if "--state-dir" not in options:
            continue
        try:
            code = cli.main([*words, "--state-dir", str(f)])
        except SystemExit as exit_:  # argparse: a required argument missing, for one
            code = exit_.code
        assert code not in (0, None), words
        _one_line(capsys)
        checked.append(" ".join(words))
    assert {"up", "down", "env", "output", "demo"} <= set(checked)
