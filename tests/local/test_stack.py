"""``ddbstream up / down / env / output``: behaviour without a stack, then on the shared one."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from stack_helpers import LocalStackHandle, ddbstream_cmd, start_stack, stop_stack

from ddbstream import cli
from ddbstream.local import stack
from ddbstream.local.stack import commands

OUTPUTS = {
    "dlq_url": {"sensitive": False, "type": "string", "value": "http://127.0.0.1:4566/1/dlq"},
    "dynamodb_table_name": {"sensitive": False, "type": "string", "value": "T-1"},
    "alarm_names": {"sensitive": False, "type": ["tuple", ["string"]], "value": ["a", "b"]},
    "retries": {"sensitive": False, "type": "number", "value": 2},
    "secret": {"sensitive": True, "type": "string", "value": "s3cr3t"},
}


# ---------------------------------------------------------------------------------------------
# Without a running stack
# ---------------------------------------------------------------------------------------------


def test_output_renders_like_terraform_output() -> None:
    assert commands.render_output(OUTPUTS, "dlq_url", raw=True, as_json=False) == (
        "http://127.0.0.1:4566/1/dlq"
    )
    assert commands.render_output(OUTPUTS, "retries", raw=True, as_json=False) == "2"
    assert commands.render_output(OUTPUTS, "dynamodb_table_name", False, False) == '"T-1"'
    assert commands.render_output(OUTPUTS, "alarm_names", False, False) == '[\n  "a",\n  "b",\n]'
    everything = commands.render_output(OUTPUTS, None, False, False).splitlines()
    assert everything[0] == "alarm_names = ["
    assert 'dlq_url = "http://127.0.0.1:4566/1/dlq"' in everything
    assert "secret = <sensitive>" in everything
    assert json.loads(commands.render_output(OUTPUTS, None, False, True)) == OUTPUTS
    assert json.loads(commands.render_output(OUTPUTS, "alarm_names", False, True)) == ["a", "b"]


def test_output_errors_name_the_problem() -> None:
    with pytest.raises(stack.StackError) as err:
        commands.render_output(OUTPUTS, "table_name", raw=True, as_json=False)
    assert 'output "table_name" not found' in str(err.value)
    assert "dynamodb_table_name" in str(err.value)  # the known names are listed
    with pytest.raises(stack.StackError, match="-raw needs the NAME"):
        commands.render_output(OUTPUTS, None, raw=True, as_json=False)
    with pytest.raises(stack.StackError, match="use -json"):
        commands.render_output(OUTPUTS, "alarm_names", raw=True, as_json=False)


def test_output_command_reads_the_last_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / stack.OUTPUTS_FILE).write_text(json.dumps(OUTPUTS))
    assert cli.main(["output", "-raw", "dlq_url", "--state-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "http://127.0.0.1:4566/1/dlq"  # no newline, as terraform
    assert cli.main(["output", "nope", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert 'output "nope" not found' in err and "dlq_url" in err


def test_env_and_output_without_a_stack_name_the_state_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["env", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no local stack is running" in err and str(tmp_path) in err and "ddbstream up" in err
    assert cli.main(["output", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no outputs yet" in err and str(tmp_path) in err


def test_down_without_a_stack_is_harmless(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["down", "--state-dir", str(tmp_path)]) == 0
    assert "No local stack is running" in capsys.readouterr().out


def test_a_stale_state_file_is_not_a_running_stack(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    state = {"pid": int(dead.stdout), "status": "ready", "endpoint": "http://127.0.0.1:9"}
    (tmp_path / stack.STATE_FILE).write_text(json.dumps(state))
    assert stack.find_running(tmp_path) is None


def test_port_choice(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(stack.StackError, match=f"port {busy} is in use"):
            stack.choose_port(busy, None)
        assert stack.choose_port(None, busy) != busy  # the previous port, when free, else 4566…
    assert stack.choose_port(0, None) > 0


def test_terraform_progress_lines() -> None:
    said: list[str] = []
    progress = stack.TerraformProgress(said.append, started=time.monotonic())
    progress("aws_sqs_queue.dlq: Creating...")
    progress("aws_sqs_queue.dlq: Creation complete after 25s [id=http://x/dlq]")
    progress("aws_lambda_function.processor: Modifications complete after 5s [id=f]")
    progress("data.aws_region.current: Read complete after 0s [id=us-east-1]")
    progress("Apply complete! Resources: 1 added, 1 changed, 0 destroyed.")
    assert progress.completed == 2
    assert "created   aws_sqs_queue.dlq (25s)" in said[0]
    assert "updated   aws_lambda_function.processor (5s)" in said[1]
    assert "Apply complete!" in said[2]
    assert len(said) == 3


SNAPSHOT_WRITE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ddbstream.local import clients, emulator, snapshot
    emu = emulator.start()
    c = clients.Clients(emu.endpoint)
    ddb = c("dynamodb")
    ddb.create_table(TableName="T", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    ddb.put_item(TableName="T", Item={"k": {"S": "before"}})
    c("sqs").create_queue(QueueName="q")
    c("kms").create_key()
    s3 = c("s3")
    s3.create_bucket(Bucket="bucket-1")
    s3.put_object(Bucket="bucket-1", Key="audit-logs/a", Body=b"audit")
    snapshot.save(Path(sys.argv[1]))
    emu.stop()
    """
)

SNAPSHOT_READ = textwrap.dedent(
    """
    import sys, json
    from pathlib import Path
    from ddbstream.local import clients, emulator, snapshot
    emulator.patch_moto()
    restored = snapshot.load(Path(sys.argv[1]))
    emu = emulator.start()
    c = clients.Clients(emu.endpoint)
    ddb = c("dynamodb")
    ddb.put_item(TableName="T", Item={"k": {"S": "after"}})
    streams = c("dynamodbstreams")
    arn = ddb.describe_table(TableName="T")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=it)["Records"]
    keys = [r["dynamodb"]["Keys"]["k"]["S"] for r in records]
    body = c("s3").get_object(Bucket="bucket-1", Key="audit-logs/a")["Body"].read()
    print(json.dumps({"restored": restored, "stream": keys, "body": body.decode(),
                      "queues": c("sqs").list_queues().get("QueueUrls", []),
                      "keys": len(c("kms").list_keys()["Keys"])}))
    emu.stop()
    """
)


def test_emulator_snapshot_survives_a_new_process(tmp_path: Path) -> None:
    snap = tmp_path / "emulator.pickle"
    subprocess.run([sys.executable, "-c", SNAPSHOT_WRITE, str(snap)], check=True, timeout=120)
    out = subprocess.run(
        [sys.executable, "-c", SNAPSHOT_READ, str(snap)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"dynamodb", "s3", "sqs", "kms"} <= set(got["restored"])
    assert got["stream"] == ["before", "after"]  # the stream goes on where it was
    assert got["body"] == "audit"
    assert got["queues"] and got["queues"][0].endswith("/q")
    assert got["keys"] >= 1


def test_a_snapshot_from_elsewhere_is_refused(tmp_path: Path) -> None:
    from ddbstream.local import snapshot

    with pytest.raises(snapshot.SnapshotError):
        snapshot.loads(b"not a pickle")
    import pickle

    with pytest.raises(snapshot.SnapshotError, match=r"moto 0\.0"):
        snapshot.loads(pickle.dumps({"format": snapshot.FORMAT, "moto": "0.0", "backends": {}}))


# ---------------------------------------------------------------------------------------------
# On the shared local stack
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_up_printed_progress_and_how_to_use_it(local_stack: LocalStackHandle) -> None:
    out = local_stack.up_output
    assert "emulator" in out and "terraform" in out and "runtime" in out
    # resources as they complete, with timings (addresses inside the root's module call)
    assert "created   module.ddbstream.aws_dynamodb_table." in out
    assert 'eval "$(ddbstream env' in out and "-raw dynamodb_table_name" in out
    timings = local_stack.state["timings"]
    assert set(timings) >= {"emulator", "package", "terraform_init", "terraform_apply", "runtime"}


@pytest.mark.slow
def test_second_up_reuses_the_running_stack(local_stack: LocalStackHandle) -> None:
    t0 = time.monotonic()
    proc = local_stack.ddbstream("up", "--state-dir", str(local_stack.state_dir))
    assert proc.returncode == 0, proc.stderr
    assert "already running" in proc.stdout and "reusing it" in proc.stdout
    assert time.monotonic() - t0 < 15
    assert stack.find_running(local_stack.state_dir)["pid"] == local_stack.state["pid"]


@pytest.mark.slow
def test_env_points_the_aws_cli_at_the_stack(local_stack: LocalStackHandle) -> None:
    proc = local_stack.ddbstream("env")
    assert proc.returncode == 0, proc.stderr
    assert f"export AWS_ENDPOINT_URL={local_stack.endpoint}" in proc.stdout
    assert "export AWS_DEFAULT_REGION=us-east-1" in proc.stdout
    assert "export AWS_ACCESS_KEY_ID=testing" in proc.stdout
    # Through the AWS CLI: every service the walkthrough uses answers from the emulator,
    # `aws sqs` included (awscli v1 would otherwise send it to queue.amazonaws.com).
    run = local_stack.bash(
        "aws sqs list-queues --output text\n"
        "aws dynamodb list-tables --output text\n"
        "aws lambda list-functions --query 'Functions[].FunctionName' --output text\n"
    )
    assert run.returncode == 0, run.stderr
    outputs = local_stack.outputs
    assert outputs["dlq_url"].rsplit("/", 1)[1] in run.stdout
    assert outputs["dynamodb_table_name"] in run.stdout
    assert outputs["lambda_function_name"] in run.stdout


@pytest.mark.slow
def test_output_mirrors_terraform_output(local_stack: LocalStackHandle) -> None:
    outputs = local_stack.outputs
    for name in stack.WALKTHROUGH_OUTPUTS:
        proc = local_stack.ddbstream("output", "-raw", name)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == outputs[name] and outputs[name]
    everything = local_stack.ddbstream("output")
    assert f'dynamodb_table_name = "{outputs["dynamodb_table_name"]}"' in everything.stdout
    as_json = json.loads(local_stack.ddbstream("output", "-json").stdout)
    assert as_json["dlq_url"]["value"] == outputs["dlq_url"]
    missing = local_stack.ddbstream("output", "-raw", "no_such_output")
    assert missing.returncode == 1 and "dlq_url" in missing.stderr


@pytest.mark.slow
def test_down_then_up_keeps_everything_and_processes_each_change_once(
    local_stack: LocalStackHandle,
) -> None:
    """Changes written just before ``down`` are processed once after ``up``: the emulator's
    state is restored and the runtime resumes from its checkpoints."""
    from ddbstream.local.demo import AuditReader

    outputs = local_stack.outputs
    ddb = local_stack.client("dynamodb")
    marker = f"persist-{int(time.time())}"
    for i in range(30):
        ddb.put_item(
            TableName=outputs["dynamodb_table_name"],
            Item={"UserId": {"S": "persist"}, "ActivityId": {"S": f"{marker}-{i:03d}"}},
        )
    port = local_stack.state["port"]
    down = stop_stack(local_stack.state_dir)
    assert down.returncode == 0 and "Stopped" in down.stdout, down.stderr
    assert (local_stack.state_dir / stack.SNAPSHOT_FILE).exists()
    assert stack.find_running(local_stack.state_dir) is None

    _, took, out = start_stack(local_stack.state_dir, port=port)
    local_stack.refresh()
    assert "restored from the last run" in out
    # nothing re-created: Terraform's state still matches what the emulator holds
    assert "Resources: 0 added" in out or "No changes." in out, out

    for i in range(30, 40):
        ddb.put_item(
            TableName=outputs["dynamodb_table_name"],
            Item={"UserId": {"S": "persist"}, "ActivityId": {"S": f"{marker}-{i:03d}"}},
        )
    reader = AuditReader(local_stack.client("s3"), outputs["s3_bucket_name"])
    deadline = time.monotonic() + 60
    lines: list[dict] = []
    while time.monotonic() < deadline:
        reader.refresh()
        lines = [
            ln for v in reader.seen.values() for ln in v if marker in json.dumps(ln.get("keys"))
        ]
        if len({json.dumps(ln["keys"]) for ln in lines}) >= 40:
            break
        time.sleep(0.5)
    per_item: dict[str, int] = {}
    for ln in lines:
        per_item[ln["keys"]["ActivityId"]] = per_item.get(ln["keys"]["ActivityId"], 0) + 1
    assert len(per_item) == 40, f"skipped: {sorted(set(range(40)) - set(per_item))}"
    assert set(per_item.values()) == {1}, {k: v for k, v in per_item.items() if v != 1}
    print(f"\nup with the restored state took {took:.1f}s")


@pytest.mark.slow
def test_down_while_starting_abandons_the_start(tmp_path: Path) -> None:
    """`down` (or Ctrl-C) during the apply stops everything, terraform included; nothing saved."""
    state_dir = tmp_path / "starting"
    child = subprocess.Popen(
        ddbstream_cmd("up", "--state-dir", str(state_dir), "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # until terraform runs in the stack's working directory
            state = stack.read_state(state_dir) or {}
            if (
                state.get("status") == "starting"
                and (state_dir / "terraform" / ".terraform").exists()
            ):
                break
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.2)
        time.sleep(2)  # terraform apply under way
        env = subprocess.run(
            ddbstream_cmd("env", "--state-dir", str(state_dir)), capture_output=True, text=True
        )
        assert env.returncode == 1 and "still starting" in env.stderr
        down = stop_stack(state_dir)
        assert down.returncode == 0 and "while it was starting" in down.stdout, down.stderr
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, out
    assert "interrupted while starting" in out
    assert not (state_dir / stack.SNAPSHOT_FILE).exists()
    assert not (state_dir / stack.STATE_FILE).exists()
    leftover = subprocess.run(
        ["pgrep", "-f", "--", f"-chdir={state_dir}/terraform"], capture_output=True
    )
    assert leftover.returncode == 1, "a terraform process outlived `down`"
    # nor its provider plugin (a process working in the stack's terraform directory)
    time.sleep(0.5)
    plugins = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and os.readlink(proc / "cwd").startswith(str(state_dir)):
                plugins.append((proc / "cmdline").read_text().replace("\0", " "))
    assert plugins == [], plugins
