"""Conformance: the function as Lambda runs it: deployed code, warm workers, configuration
changes, environment and context, logs and metrics."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

CONTEXT_AND_ENV = """
import json
import os
import boto3

def handler(event, context):
    seen = {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("AWS_", "APP_", "LAMBDA_", "_HANDLER", "_X_AMZN_TRACE_ID"))},
    }
    # the handler reaches the emulator through AWS_ENDPOINT_URL, as on AWS it reaches AWS
    boto3.client("s3").put_object(Bucket=os.environ["APP_BUCKET"], Key="seen.json",
                                  Body=json.dumps(seen).encode())
    record(event)
"""

VERSIONED = """
import os
VERSION = "{version}"
def handler(event, context):
    record(event, version=VERSION, greeting=os.environ.get("GREETING"))
"""


def test_context_and_environment(lab, moto_endpoint):
    s3 = lab.client("s3")
    bucket = f"b-{lab.name}"
    s3.create_bucket(Bucket=bucket)
    lab.table()
    lab.function(CONTEXT_AND_ENV, env={"APP_BUCKET": bucket}, timeout=7)
    lab.mapping()
    lab.put("a")
    rt = lab.runtime()
    assert rt.wait_idle(30)
    seen = json.loads(s3.get_object(Bucket=bucket, Key="seen.json")["Body"].read())
    assert seen["function_name"] == lab.function_name
    assert seen["function_version"] == "$LATEST"
    assert seen["invoked_function_arn"] == lab.function_arn
    assert seen["memory_limit_in_mb"] == "256"  # a string, as awslambdaric gives it
    assert seen["log_group_name"] == f"/aws/lambda/{lab.function_name}"
    assert seen["log_stream_name"].startswith(
        dt.datetime.now(dt.UTC).strftime("%Y/%m/%d/[$LATEST]")
    )
    assert 0 < seen["remaining"] <= 7000
    assert len(seen["aws_request_id"]) == 36
    env = seen["env"]
    assert env["AWS_ENDPOINT_URL"] == moto_endpoint
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == lab.function_name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{lab.function_name}"
    assert env["APP_BUCKET"] == bucket
    assert env["_HANDLER"] == "handler.handler"
    # the invocation's X-Ray trace header (Powertools' xray_trace_id is its Root)
    assert re.fullmatch(
        r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", env["_X_AMZN_TRACE_ID"]
    )


def test_warm_worker_is_reused(lab):
    lab.table()
    lab.function(VERSIONED.format(version="v1"))
    lab.mapping(BatchSize=1)
    rt = lab.runtime()
    for k in "abc":
        lab.put(k)
        assert rt.wait_idle(20)
    pids = {c["pid"] for c in lab.calls()}
    assert len(lab.calls()) == 3 and len(pids) == 1
    assert rt.workers_started == 1


def test_code_update_takes_effect_on_the_next_invocation(lab):
    lab.table()
    lab.function(VERSIONED.format(version="v1"))
    lab.mapping()
    rt = lab.runtime()
    lab.put("a")
    assert rt.wait_idle(20)
    lab.update_code(VERSIONED.format(version="v2"))
    lab.put("b")
    assert rt.wait_idle(20)
    calls = lab.calls()
    assert [c["version"] for c in calls] == ["v1", "v2"]
    assert calls[0]["pid"] != calls[1]["pid"]


def test_configuration_update_takes_effect_on_the_next_invocation(lab):
    lab.table()
    lab.function(VERSIONED.format(version="v1"), env={"GREETING": "hello"})
    lab.mapping()
    rt = lab.runtime()
    lab.put("a")
    assert rt.wait_idle(20)
    lab.lam.update_function_configuration(
        FunctionName=lab.function_name,
        Environment={"Variables": {"RECORD_FILE": str(lab.record_file), "GREETING": "bonjour"}},
    )
    lab.put("b")
    assert rt.wait_idle(20)
    assert [c["greeting"] for c in lab.calls()] == ["hello", "bonjour"]


def test_the_configuration_is_read_in_process_as_get_function_configuration_answers_it(lab):
    # Read before every invocation (a change is seen by the next one), from moto's backend in
    # this process rather than over HTTP; for a function, a version and an alias the answer is
    # GetFunctionConfiguration's.
    lab.table()
    lab.function(VERSIONED.format(version="v1"), env={"GREETING": "hello"})
    fn_arn = lab.lam.get_function(FunctionName=lab.function_name)["Configuration"]["FunctionArn"]
    version = lab.lam.publish_version(FunctionName=lab.function_name)["Version"]
    alias_arn = lab.lam.create_alias(
        FunctionName=lab.function_name, Name="live", FunctionVersion=version
    )["AliasArn"]
    lab.mapping()
    rt = lab.runtime()
    asked: list[str] = []
    rt.services.clients.lambda_.meta.events.register(
        "before-call.lambda.GetFunctionConfiguration", lambda **kw: asked.append("asked")
    )
    for arn in (fn_arn, f"{fn_arn}:{version}", alias_arn):
        answer = lab.lam.get_function_configuration(FunctionName=arn)
        answer.pop("ResponseMetadata")
        assert json.loads(json.dumps(rt.services.functions.configuration(arn))) == answer, arn
    for key in ("a", "b", "c"):  # three invocations
        lab.put(key)
        assert rt.wait_idle(20)
    assert len(lab.calls()) == 3
    assert asked == []


def test_runs_the_deployed_package_not_the_working_tree(lab):
    # The zip carries its own `ddbstream` package; it wins over the one installed here.
    lab.table()
    lab.function(
        "",
        handler="ddbstream.handler.lambda_handler",
        files={
            "ddbstream/__init__.py": "",
            "ddbstream/handler.py": (
                "from handler import record\n"
                "def lambda_handler(event, context):\n"
                "    record(event, origin=__file__)\n"
                "    return {'batchItemFailures': []}\n"
            ),
        },
    )
    lab.mapping()
    lab.put("a")
    rt = lab.runtime()
    assert rt.wait_idle(20)
    (call,) = lab.calls()
    assert str(lab.state_dir / "code") in call["origin"]


def test_import_error_is_a_function_error_until_the_code_is_fixed(lab):
    lab.table()
    lab.function("import not_a_module_anywhere\n" + VERSIONED.format(version="broken"))
    lab.mapping()
    lab.put("a")
    rt = lab.runtime()
    assert lab.wait_for(lambda: rt.stats().get(lab.mapping_uuids[0], {}).get("errors", 0) >= 1)
    lab.update_code(VERSIONED.format(version="fixed"))
    assert rt.wait_idle(30)
    assert [c["version"] for c in lab.calls()] == ["fixed"]
    errors = [e for e in lab.events if e["type"] == "invoke" and e["error"]]
    assert errors and errors[0]["error"] == "Runtime.ImportModuleError"


def test_malformed_and_missing_handlers_are_init_errors_as_in_lambda(lab):
    lab.table()
    lab.function(VERSIONED.format(version="v1"), handler="nodot")
    lab.mapping()
    lab.put("a")
    lab.runtime()

    def errors() -> list[str]:
        return [e["error"] for e in lab.events if e["type"] == "invoke" and e["error"]]

    assert lab.wait_for(lambda: len(errors()) >= 1)
    assert errors()[0] == "Runtime.MalformedHandlerName"
    lab.lam.update_function_configuration(FunctionName=lab.function_name, Handler="handler.nope")
    assert lab.wait_for(lambda: "Runtime.HandlerNotFound" in errors())
    assert lab.calls() == []  # never reached the handler


def test_logs_go_to_the_functions_log_group(lab):
    lab.table()
    lab.function(
        """
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)
print("cold start")

def handler(event, context):
    for r in event["Records"]:
        print("Processing", r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"])
    logger.info("batch of %d", len(event["Records"]))
    record(event)
"""
    )
    lab.mapping()
    lab.put("a")
    lab.put("b")
    rt = lab.runtime()
    assert rt.wait_idle(20)
    logs = lab.client("logs")
    group = f"/aws/lambda/{lab.function_name}"
    found = logs.filter_log_events(logGroupName=group, filterPattern="Processing")["events"]
    assert [e["message"] for e in found] == ["Processing INSERT a", "Processing INSERT b"]
    everything = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert everything[0] == "cold start"  # the init phase comes first
    assert everything[1].startswith("START RequestId: ") and "Version: $LATEST" in everything[1]
    rid = everything[1].split()[2]
    assert any(m.startswith("[INFO]") and rid in m and "batch of 2" in m for m in everything)
    assert f"END RequestId: {rid}" in everything
    report = next(m for m in everything if m.startswith("REPORT"))
    assert rid in report and "Duration:" in report and "Memory Size: 256 MB" in report
    assert "Init Duration:" in report
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1 and "[$LATEST]" in streams[0]["logStreamName"]


def test_function_error_is_logged(lab):
    lab.table()
    lab.function(
        """
def handler(event, context):
    record(event)
    raise KeyError("missing thing")
"""
    )
    lab.mapping(MaximumRetryAttempts=0)
    lab.put("a")
    rt = lab.runtime()
    assert rt.wait_idle(20)
    group = f"/aws/lambda/{lab.function_name}"
    msgs = [
        e["message"]
        for e in lab.client("logs").filter_log_events(logGroupName=group, filterPattern="ERROR")[
            "events"
        ]
    ]
    assert any(m.startswith("[ERROR] KeyError") and "Traceback" in m for m in msgs)


def test_metrics_are_put_to_cloudwatch(lab):
    lab.table()
    lab.function(
        """
import os
def handler(event, context):
    record(event)
    if any(r["dynamodb"]["Keys"]["pk"]["S"] == "bad" for r in event["Records"]):
        raise ValueError("bad")
"""
    )
    lab.mapping(BatchSize=1, MaximumRetryAttempts=0)
    lab.put("a")
    lab.put("bad")
    lab.put("b")
    rt = lab.runtime()
    assert rt.wait_idle(20)
    cw = lab.client("cloudwatch")
    dims = [{"Name": "FunctionName", "Value": lab.function_name}]
    names = {
        m["MetricName"] for m in cw.list_metrics(Namespace="AWS/Lambda", Dimensions=dims)["Metrics"]
    }
    assert {"Invocations", "Errors", "Duration", "IteratorAge"} <= names
    now = dt.datetime.now(dt.UTC)

    def total(name: str, stat: str = "Sum") -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=name,
            Dimensions=dims,
            StartTime=now - dt.timedelta(minutes=10),
            EndTime=now + dt.timedelta(minutes=1),
            Period=60,
            Statistics=[stat],
        )["Datapoints"]
        return sum(p[stat] for p in points)

    assert total("Invocations") == 3
    assert total("Errors") == 1
    assert total("Duration", "SampleCount") == 3
    assert total("IteratorAge", "SampleCount") == 3


def test_missing_function_is_retried_before_invocation_without_losing_records(lab):
    lab.table()
    lab.function(VERSIONED.format(version="v1"))
    lab.mapping(MaximumRetryAttempts=0)  # not used: the function is never invoked
    lab.lam.delete_function(FunctionName=lab.function_name)
    lab.put("a")
    rt = lab.runtime()
    assert lab.wait_for(lambda: any(e["type"] == "error" for e in lab.events))
    assert not rt.wait_idle(1.5)  # the record is waiting, not dropped
    lab.function(VERSIONED.format(version="v2"))
    assert rt.wait_idle(20)
    assert [(c["keys"], c["version"]) for c in lab.calls()] == [(["a"], "v2")]
    assert sum(1 for e in lab.events if e["type"] == "error") == 1  # reported once


def test_idle_workers_are_retired(lab):
    lab.table()
    lab.function(VERSIONED.format(version="v1"))
    lab.mapping()
    rt = lab.runtime(worker_idle_timeout=0.3)
    lab.put("a")
    assert rt.wait_idle(20)
    time.sleep(1.0)  # idle longer than the timeout: the worker is stopped
    lab.put("b")
    assert rt.wait_idle(20)
    first, second = lab.calls()
    assert first["pid"] != second["pid"] and rt.workers_started == 2


ALIASED = """
import os
CODE = "{code}"
def handler(event, context):
    record(event, code=CODE, function_version=context.function_version,
           invoked=context.invoked_function_arn,
           env_version=os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
           stream=context.log_stream_name)
    if any(r["dynamodb"]["Keys"]["pk"]["S"] == "bad" for r in event["Records"]):
        raise ValueError("bad record")
"""


def test_mapping_on_an_alias_runs_and_reports_the_aliases_version(lab):
    lab.table()
    lab.function(ALIASED.format(code="c1"))
    assert lab.lam.publish_version(FunctionName=lab.function_name)["Version"] == "1"
    lab.update_code(ALIASED.format(code="c2"))  # $LATEST moves on; version 1 keeps c1
    alias = lab.lam.create_alias(FunctionName=lab.function_name, Name="live", FunctionVersion="1")
    alias_arn = alias["AliasArn"]
    url, dlq = lab.queue()
    uuid_ = lab.lam.create_event_source_mapping(
        EventSourceArn=lab.stream_arn,
        FunctionName=alias_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": dlq}},
    )["UUID"]
    lab.mapping_uuids.append(uuid_)
    # Lambda keeps the alias's ARN (moto stored version 1's): the mapping follows the alias
    assert lab.lam.get_event_source_mapping(UUID=uuid_)["FunctionArn"] == alias_arn
    lab.put("a")
    rt = lab.runtime()
    assert rt.wait_idle(30)
    (call,) = lab.calls()
    assert call["code"] == "c1"
    assert call["function_version"] == call["env_version"] == "1"
    assert call["invoked"] == alias_arn
    assert "/[1]" in call["stream"]
    logs = lab.client("logs")
    starts = logs.filter_log_events(
        logGroupName=f"/aws/lambda/{lab.function_name}", filterPattern="START"
    )["events"]
    assert starts and all("Version: 1" in e["message"] for e in starts)

    lab.put("bad")  # fails, no retries: the on-failure record names the version that ran
    assert rt.wait_idle(30)
    (doc,) = lab.messages(url, want=1)
    assert doc["responseContext"]["executedVersion"] == "1"
    assert doc["requestContext"]["functionArn"] == alias_arn

    assert lab.lam.publish_version(FunctionName=lab.function_name)["Version"] == "2"
    lab.lam.update_alias(FunctionName=lab.function_name, Name="live", FunctionVersion="2")
    lab.put("b")
    assert rt.wait_idle(30)
    last = lab.calls()[-1]
    assert (last["keys"], last["code"], last["function_version"]) == (["b"], "c2", "2")


GREEDY = """
import os
def handler(event, context):
    record(event)
    if any(r["dynamodb"]["Keys"]["pk"]["S"] == "big" for r in event["Records"]):
        blob = b"x" * (int(os.environ["ALLOCATE_MB"]) << 20)  # touched: resident
        return {"size": len(blob)}
"""


def test_a_function_past_its_memory_size_ends_as_lambda_ends_it(lab):
    lab.table()
    lab.function(GREEDY, env={"ALLOCATE_MB": "300"}, memory=128)
    url, arn = lab.queue()
    lab.mapping(MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}})
    lab.put("big")
    rt = lab.runtime()
    assert rt.wait_idle(30)
    (invoke,) = [e for e in lab.events if e["type"] == "invoke"]
    assert invoke["error"] == "Runtime.OutOfMemory"
    (doc,) = lab.messages(url, want=1)
    assert doc["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert doc["responseContext"]["functionError"] == "Unhandled"
    logs = lab.client("logs")
    group = f"/aws/lambda/{lab.function_name}"
    messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    report = next(m for m in messages if m.startswith("REPORT"))
    assert "Memory Size: 128 MB\tMax Memory Used: 128 MB" in report
    assert report.endswith("Status: error\tError Type: Runtime.OutOfMemory")
    assert any(
        m.endswith("Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory")
        for m in messages
    )
    started = rt.workers_started
    lab.put("small")  # the execution environment is gone: a cold start, which works
    assert rt.wait_idle(30)
    assert rt.workers_started == started + 1
    assert lab.batches()[-1] == ["small"]


def test_a_slow_log_upload_does_not_hold_the_lane_back_and_is_flushed_at_stop(lab):
    # CloudWatch Logs answering slowly (every PutLogEvents held 1 s before it is sent, a real
    # request to the emulator after that): the lane's next batch is invoked without waiting for
    # the previous invocation's log upload; every invocation's lines still arrive, in order,
    # once the runtime stops (stopped right after the last invocation, uploads still queued).
    lab.table()
    lab.function("def handler(event, context):\n    record(event)\n    print('processed')\n")
    rt = lab.runtime()

    def slow_logs(**kwargs: object) -> None:
        time.sleep(1.0)

    logs_client = rt.services.clients.logs
    logs_client.meta.events.register("before-send.cloudwatch-logs.PutLogEvents", slow_logs)
    for i in range(4):
        lab.put(f"s{i}")  # one lane (ParallelizationFactor 1): four batches in a row
    lab.mapping(BatchSize=1)
    assert lab.wait_for(lambda: len(lab.calls()) == 4, timeout=20)
    rt.stop(timeout=10)
    started = [c["t"] for c in lab.calls()]
    # synchronous uploads: at least 1 s between two invocations (3 s in all)
    assert started[-1] - started[0] < 2.0, started
    invokes = [e["request_id"] for e in lab.events if e["type"] == "invoke"]
    assert len(invokes) == 4
    group = f"/aws/lambda/{lab.function_name}"
    messages = [
        e["message"] for e in lab.client("logs").filter_log_events(logGroupName=group)["events"]
    ]
    lines = [m.split("\t")[0].strip() for m in messages if not m.startswith("INIT_START")]
    expected = []
    for rid in invokes:
        expected += [f"START RequestId: {rid} Version: $LATEST", "processed"]
        expected += [f"END RequestId: {rid}", f"REPORT RequestId: {rid}"]
    assert lines == expected
