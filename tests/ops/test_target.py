"""Which deployment a verb works on: the local stack's outputs, or `terraform output` in a dir."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ddbstream.errors import UserError
from ddbstream.local import stack
from ddbstream.ops import target

OUTPUTS = {
    "dynamodb_table_name": "T-1",
    "s3_bucket_name": "audit-bucket-1",
    "sns_topic_arn": "arn:aws:sns:eu-west-3:123456789012:notify",
    "dlq_url": "http://127.0.0.1:4566/123456789012/dlq",
    "lambda_function_name": "fn-1",
    "lambda_log_group_name": "/aws/lambda/fn-1",
}


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    target.add_target_arguments(parser)
    return parser.parse_args(list(argv))


def _fake_running_stack(state_dir: Path, endpoint: str, outputs: dict[str, object]) -> None:
    """What `ddbstream up` leaves in its state directory, served by this process's emulator."""
    state = {"pid": os.getpid(), "status": "ready", "endpoint": endpoint, "region": "us-east-1"}
    (state_dir / stack.STATE_FILE).write_text(json.dumps(state))
    if outputs:
        tf_form = {
            k: {"value": v, "type": "string", "sensitive": False} for k, v in outputs.items()
        }
        (state_dir / stack.OUTPUTS_FILE).write_text(json.dumps(tf_form))


def test_the_flags_are_one_or_the_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _args("--state-dir", "a", "--terraform-dir", "b")
    assert "not allowed with" in capsys.readouterr().err


def test_no_local_stack_running_names_the_state_dir(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no local stack is running") as err:
        target.resolve(_args("--state-dir", str(tmp_path)))
    assert str(tmp_path) in str(err.value) and "ddbstream up" in str(err.value)


def test_a_state_dir_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(UserError, match="not a directory"):
        target.resolve(_args("--state-dir", str(f)))


def test_a_running_stack_without_outputs(tmp_path: Path, moto_endpoint: str) -> None:
    _fake_running_stack(tmp_path, moto_endpoint, {})
    with pytest.raises(UserError, match="no outputs yet"):
        target.resolve(_args("--state-dir", str(tmp_path)))


def test_reads_the_local_stacks_outputs_and_reaches_its_emulator(
    tmp_path: Path, moto_endpoint: str
) -> None:
    _fake_running_stack(tmp_path, moto_endpoint, OUTPUTS)
    d = target.resolve(_args("--state-dir", str(tmp_path)))
    assert d.is_local and d.endpoint == moto_endpoint and d.state_dir == tmp_path.resolve()
    assert (d.table_name, d.bucket, d.function_name) == ("T-1", "audit-bucket-1", "fn-1")
    assert d.log_group == "/aws/lambda/fn-1"
    assert d.topic_arn == OUTPUTS["sns_topic_arn"]
    # The saved URL names port 4566; the stack now serves elsewhere: the URL follows it.
    assert d.dlq_url == f"{moto_endpoint}/123456789012/dlq"
    bucket = f"target-{os.getpid()}"
    d.client("s3").create_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in d.client("s3").list_buckets()["Buckets"]]
    with pytest.raises(UserError, match=r'no output "kms_key_arn".*dynamodb_table_name'):
        d.output("kms_key_arn")


def test_terraform_dir_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such directory"):
        target.resolve(_args("--terraform-dir", str(tmp_path / "nope")))
    f = tmp_path / "file.tf"
    f.write_text("")
    with pytest.raises(UserError, match="not a directory"):
        target.resolve(_args("--terraform-dir", str(f)))


needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform")


@needs_terraform
def test_terraform_dir_never_applied_has_no_outputs(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('output "x" {\n  value = "y"\n}\n')
    with pytest.raises(UserError, match=f"no Terraform outputs in {tmp_path}"):
        target.resolve(_args("--terraform-dir", str(tmp_path)))


@needs_terraform
def test_terraform_dir_with_a_broken_configuration(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('output "x" { value = "y"\n')
    with pytest.raises(UserError, match=r"terraform output -json` failed.*Error:"):
        target.resolve(_args("--terraform-dir", str(tmp_path)))


@needs_terraform
def test_terraform_dir_outputs_of_an_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real `terraform apply` of outputs only (no provider), then read as a deployment."""
    body = "".join(f'output "{k}" {{\n  value = "{v}"\n}}\n' for k, v in OUTPUTS.items())
    (tmp_path / "outputs.tf").write_text(body)
    for cmd in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        subprocess.run(
            ["terraform", f"-chdir={tmp_path}", *cmd], check=True, capture_output=True, timeout=120
        )
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    d = target.resolve(_args("--terraform-dir", str(tmp_path)))
    assert not d.is_local and d.endpoint is None and d.terraform_dir == tmp_path.resolve()
    assert d.table_name == "T-1" and d.dlq_url == OUTPUTS["dlq_url"]  # AWS URLs left as they are
    assert d.region == "eu-west-3"  # from the topic's ARN, as no region is configured
