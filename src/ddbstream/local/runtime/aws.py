"""The boto3 edge of the runtime: function configuration and code, logs, metrics, destinations.

Kept thin on purpose; the decisions live in :mod:`.batching`, :mod:`.events` and
:mod:`.filtering`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ddbstream.local import clients as emulator_clients
from ddbstream.local.fifo import SerialWorker

from .worker import InvokeResult, WorkerSpec

log = logging.getLogger("ddbstream.local.runtime")


class Clients:
    """boto3 clients bound to the emulator, made once at start and shared by the runtime's
    threads (botocore clients are thread-safe; sessions are not, so none is made later).

    Built the one way emulator clients are (:mod:`ddbstream.local.clients`): ``credentials``
    (access key id, secret) default to its dummy pair. Two retries (three attempts in all,
    standard mode) and a connection pool big enough for every lane, shard reader and worker.
    """

    CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=50)

    def __init__(
        self, endpoint: str, region: str, credentials: tuple[str, str] | None = None
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.access_key, self.secret_key = credentials or (
            emulator_clients.ACCESS_KEY,
            emulator_clients.SECRET_KEY,
        )
        session = emulator_clients.session(region, (self.access_key, self.secret_key))

        def make(service: str) -> Any:
            return emulator_clients.client(
                service, endpoint, region=region, config=self.CONFIG, boto_session=session
            )

        self.lambda_ = make("lambda")
        self.streams = make("dynamodbstreams")
        self.logs = make("logs")
        self.cloudwatch = make("cloudwatch")
        self.sqs = make("sqs")
        self.sns = make("sns")
        self.s3 = make("s3")


def split_arn(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN."""
    parts = arn.split(":", 5)
    return parts[2], parts[3], parts[4], parts[5]


class FunctionNotAvailable(Exception):
    """The function (or its code) cannot be found: an error before invocation."""


class FunctionSource:
    """The deployed function: its configuration (boto3) and the code bytes of the emulator."""

    def __init__(self, clients: Clients, state_dir: Path) -> None:
        self.clients = clients
        self.code_root = state_dir / "code"
        self.code_root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def configuration(self, function_arn: str) -> dict[str, Any]:
        """The function's configuration as GetFunctionConfiguration answers it (an alias or
        version ARN resolved), read before every invocation so that a change is seen by the
        next one.

        Built from moto's backend when it runs in this process (as ``up`` runs it), the way
        moto's own GetFunctionConfiguration builds it: over HTTP that request cost each
        invocation 26-39 ms median and up to 0.5 s on a busy stack. Else asked.
        """
        _, region, account, _ = split_arn(function_arn)
        try:
            from moto.awslambda.responses import LambdaResponse
            from moto.awslambda.utils import get_backend

            fn = get_backend(account, region).get_function(function_arn)
            cfg = LambdaResponse._set_configuration_qualifier(
                fn.get_configuration(), function_arn, None
            )
            return {k: v for k, v in cfg.items() if v is not None}  # as boto3 parses it
        except Exception as e:  # not in this process, or unknown to moto: its answer says why
            log.debug("configuration of %s not found in process: %s", function_arn, e)
        try:
            return self.clients.lambda_.get_function_configuration(FunctionName=function_arn)
        except ClientError as e:
            raise FunctionNotAvailable(f"{function_arn}: {e}") from e

    def code_bytes(self, function_arn: str) -> bytes:
        _, region, account, _ = split_arn(function_arn)
        try:
            from moto.awslambda.utils import get_backend

            fn = get_backend(account, region).get_function(function_arn)
            code = getattr(fn, "code_bytes", b"")
            if code:
                return bytes(code)
        except Exception as e:  # not in this process, or unknown to moto
            log.debug("code of %s not found in process: %s", function_arn, e)
        try:
            loc = self.clients.lambda_.get_function(FunctionName=function_arn)["Code"]["Location"]
            with urllib.request.urlopen(loc, timeout=10) as resp:
                return bytes(resp.read())
        except Exception as e:
            raise FunctionNotAvailable(f"{function_arn}: code not available ({e})") from e

    def code_dir(self, function_arn: str) -> str:
        """The directory of the unzipped code; one directory per code hash (sha256)."""
        data = self.code_bytes(function_arn)
        digest = hashlib.sha256(data).hexdigest()
        target = self.code_root / digest
        with self._lock:
            if not target.is_dir():
                tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}.", dir=self.code_root))
                try:
                    with zipfile.ZipFile(io.BytesIO(data)) as z:
                        z.extractall(tmp)
                    os.replace(tmp, target)
                except zipfile.BadZipFile as e:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise FunctionNotAvailable(f"{function_arn}: code is not a zip") from e
                except OSError:
                    shutil.rmtree(tmp, ignore_errors=True)
                    if not target.is_dir():
                        raise
        return str(target)

    def reserved(self, spec: WorkerSpec) -> int | None:
        """The function's ReservedConcurrentExecutions (None: not set; 0: never runs).

        Read from moto's backend in this process (no request per invocation), else asked.
        """
        _, region, account, _ = split_arn(spec.function_arn)
        try:
            from moto.awslambda.utils import get_backend

            value = get_backend(account, region).get_function(spec.function_name)
            value = value.reserved_concurrency
        except Exception:
            try:
                value = self.clients.lambda_.get_function_concurrency(
                    FunctionName=spec.function_name
                ).get("ReservedConcurrentExecutions")
            except (ClientError, BotoCoreError):
                return None
        return None if value is None else int(value)

    def worker_spec(self, function_arn: str) -> tuple[WorkerSpec, dict[str, str]]:
        cfg = self.configuration(function_arn)
        code_dir = self.code_dir(cfg["FunctionArn"])
        env_vars = dict((cfg.get("Environment") or {}).get("Variables") or {})
        name = cfg["FunctionName"]
        spec = WorkerSpec(
            function_name=name,
            function_arn=cfg["FunctionArn"],
            code_dir=code_dir,
            handler=cfg.get("Handler") or "",
            timeout_s=float(cfg.get("Timeout") or 3),
            memory_mb=int(cfg.get("MemorySize") or 128),
            environment=tuple(sorted(env_vars.items())),
            code_sha256=cfg.get("CodeSha256", ""),
            last_modified=cfg.get("LastModified", ""),
            log_group=f"/aws/lambda/{name}",
            # a mapping on an alias or a version runs that version (moto resolves the alias)
            version=str(cfg.get("Version") or "$LATEST"),
        )
        return spec, self._environment(spec, env_vars, cfg)

    def _environment(
        self, spec: WorkerSpec, env_vars: dict[str, str], cfg: dict[str, Any]
    ) -> dict[str, str]:
        region = self.clients.region
        env: dict[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update({str(k): str(v) for k, v in env_vars.items()})
        env.update(
            {
                "AWS_ENDPOINT_URL": self.clients.endpoint,
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                # the execution role's credentials: the runtime's own, for the emulator
                "AWS_ACCESS_KEY_ID": self.clients.access_key,
                "AWS_SECRET_ACCESS_KEY": self.clients.secret_key,
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{cfg.get('Runtime') or 'python3.12'}",
                "LAMBDA_TASK_ROOT": spec.code_dir,
                "_HANDLER": spec.handler,
                "_DDBSTREAM_FUNCTION_ARN": spec.function_arn,
            }
        )
        return env


#: Errors Lambda's REPORT line names ("Status: error  Error Type: Runtime.OutOfMemory", as
#: Lambda's users report it for a function past its memory).
CRASH_ERRORS = ("Runtime.OutOfMemory",)


class Telemetry:
    """The function's CloudWatch Logs and AWS/Lambda metrics, written to the emulator.

    Written by one sender thread, in the order they were handed over (one FIFO per runtime:
    START / the function's lines / END / REPORT of an invocation stay one batch, invocations
    of a stream stay in order), so that a lane's next batch does not wait for them: each write
    is a mutating request the durable emulator journals with an ``fsync``. :meth:`flush`
    waits until everything handed over so far is written (``Runtime.wait_idle`` calls it);
    :meth:`close` (``Runtime.stop``) flushes and ends the thread, so nothing is lost at ``down``.
    """

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self._lock = threading.Lock()
        self._streams: set[tuple[str, str]] = set()
        self._sender = SerialWorker("telemetry")

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything handed over so far is written; False: ``timeout`` passed."""
        return self._sender.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush (up to ``timeout`` seconds) and end the sender; later writes are synchronous.
        False: some writes were still queued at the timeout (they are dropped, with a warning)."""
        dropped = self._sender.close(timeout)
        if dropped:
            log.warning("telemetry: %d write(s) still queued at stop were dropped", dropped)
        return not dropped

    def _ensure_stream(self, group: str, stream: str) -> None:
        with self._lock:
            if (group, stream) in self._streams:
                return
        with contextlib.suppress(ClientError):
            self.clients.logs.create_log_group(logGroupName=group)
        with contextlib.suppress(ClientError):
            self.clients.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        with self._lock:
            self._streams.add((group, stream))

    def invocation(
        self,
        spec: WorkerSpec,
        stream: str,
        result: InvokeResult,
    ) -> None:
        """START / the function's lines / END / REPORT, as Lambda writes them (queued)."""
        rid = result.request_id
        t = result.started
        events: list[tuple[float, str]] = [(min(ts, t), m) for ts, m in result.init_logs]
        events.append((t, f"START RequestId: {rid} Version: {spec.version}"))
        events.extend(result.logs)
        end = t + result.duration_ms / 1000
        if result.timed_out:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(end))
            msg = f"{stamp}.000Z {rid} Task timed out after {spec.timeout_s:.2f} seconds"
            events.append((end, msg))
        elif result.error and str(result.error.get("errorType", "")).startswith("Runtime."):
            # The runtime process died (killed, out of memory, exit()): Lambda writes the error
            # and its type to the log group, where nothing of the function's own says so.
            events.append((end, f"{result.error.get('errorMessage')}\n{result.error['errorType']}"))
        events.append((end, f"END RequestId: {rid}"))
        report = (
            f"REPORT RequestId: {rid}\tDuration: {result.duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(-(-result.duration_ms // 1)))} ms\t"
            f"Memory Size: {spec.memory_mb} MB\t"
            f"Max Memory Used: {result.max_memory_mb or spec.memory_mb} MB"
        )
        if result.init_ms is not None:
            report += f"\tInit Duration: {result.init_ms:.2f} ms"
        error_type = (result.error or {}).get("errorType", "")
        if error_type in CRASH_ERRORS:  # as Lambda's REPORT says it for a runtime that died
            report += f"\tStatus: error\tError Type: {error_type}"
        events.append((end, report))
        self._sender.submit(functools.partial(self.put_logs, spec.log_group, stream, events))

    def put_logs(self, group: str, stream: str, events: list[tuple[float, str]]) -> None:
        if not events:
            return
        try:
            self._ensure_stream(group, stream)
            # kept in the order given (init output, START, the function's lines, END, REPORT);
            # timestamps made non-decreasing, as CloudWatch Logs requires within a batch
            batch = []
            last = 0
            for ts, msg in events:
                last = max(last, int(ts * 1000))
                batch.append({"timestamp": last, "message": msg or " "})
            for i in range(0, len(batch), 1000):
                self.clients.logs.put_log_events(
                    logGroupName=group, logStreamName=stream, logEvents=batch[i : i + 1000]
                )
        except (ClientError, BotoCoreError) as e:
            log.warning("could not write logs of %s: %s", group, e)

    def metrics(self, function_name: str, data: list[tuple[str, float, str]]) -> None:
        """Put AWS/Lambda metrics: (name, value, unit) with dimension FunctionName (queued)."""
        if data:
            self._sender.submit(functools.partial(self.put_metrics, function_name, list(data)))

    def put_metrics(self, function_name: str, data: list[tuple[str, float, str]]) -> None:
        try:
            self.clients.cloudwatch.put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
                        "Value": float(value),
                        "Unit": unit,
                    }
                    for name, value, unit in data
                ],
            )
        except (ClientError, BotoCoreError) as e:
            log.warning("could not put metrics of %s: %s", function_name, e)


#: LastProcessingResult after an invocation, as Lambda reports it (Lambda DG, "Using AWS Lambda
#: with Amazon DynamoDB": "PROBLEM: Function call failed" after a function error; "OK" after
#: a successful call, as Lambda is observed to report). Other outcomes (a throttle, a missing
#: function) leave the last value, as AWS documents no text for them.
PROCESSING_OK = "OK"
PROCESSING_FAILED = "PROBLEM: Function call failed"


def record_processing_result(mapping_uuid: str, function_arn: str, result: str) -> None:
    """Set the mapping's ``LastProcessingResult`` in moto's in-process Lambda backend.

    Best effort, like :func:`forget_shard_iterator`: nothing happens when the emulator is not
    in this process. ``ddbstream.local.emulator.patch_moto`` makes moto return it.
    """
    with contextlib.suppress(Exception):
        from moto.awslambda.utils import get_backend

        _, region, account, _ = split_arn(function_arn)
        esm = get_backend(account, region).get_event_source_mapping(mapping_uuid)
        if esm is not None:
            esm.last_processing_result = result


def forget_shard_iterator(stream_arn: str, iterator: str) -> None:
    """Drop a used shard iterator from moto's in-process DynamoDB Streams backend.

    moto keeps every iterator it ever handed out; polling four times a second would grow that
    map (and a ``down`` snapshot of the emulator) without bound. Best effort: nothing happens
    when the emulator is not in this process.
    """
    with contextlib.suppress(Exception):
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        _, region, account, _ = split_arn(stream_arn)
        dynamodbstreams_backends[account][region].shard_iterators.pop(iterator, None)


def send_to_destination(
    clients: Clients, destination_arn: str, document: dict[str, Any], s3_key: str | None = None
) -> None:
    """Send an on-failure record to an SQS queue, SNS topic or S3 bucket (``s3_key``: the
    object's key; ``document`` then carries the payload). Raises on failure."""
    service, _, account, resource = split_arn(destination_arn)
    body = json.dumps(document)
    if service == "s3":
        if not s3_key:
            raise ValueError("an S3 on-failure destination needs the object's key")
        clients.s3.put_object(
            Bucket=resource, Key=s3_key, Body=body.encode(), ContentType="application/json"
        )
    elif service == "sqs":
        url = clients.sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)[
            "QueueUrl"
        ]
        clients.sqs.send_message(QueueUrl=url, MessageBody=body)
    elif service == "sns":
        clients.sns.publish(TopicArn=destination_arn, Message=body)
    else:
        raise ValueError(f"unsupported on-failure destination: {destination_arn}")
