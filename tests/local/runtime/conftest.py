"""Fixtures of the local runtime's conformance suite.

``lab`` gives each test its own table (with a stream), function (a small handler written for
the test, zipped and deployed with boto3), event source mapping and :class:`Runtime` limited to
that mapping, all against the session's in-process moto server.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ddbstream.local.runtime import Runtime

#: Appended to every test handler: ``record(event, **extra)`` appends one JSON line per call.
RECORDER = """
import json as _json, os as _os, time as _time

def record(event, **extra):
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event.get("Records", [])]
    line = {"keys": keys, "seqs": [r["dynamodb"]["SequenceNumber"] for r in event["Records"]],
            "pid": _os.getpid(), "t": _time.time(), **extra}
    if _os.environ.get("RECORD_EVENTS"):
        line["event"] = event
    with open(_os.environ["RECORD_FILE"], "a") as f:
        f.write(_json.dumps(line) + "\\n")
"""

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def make_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, text)
    return buf.getvalue()


#: The suite's own emulator account. moto keeps one state per process, shared by every test
#: of the session: in their own account, these tests' tables and mappings are invisible to any
#: other runtime in the process (a local stack's, for one), and theirs to these.
TEST_ACCOUNT = "000000000042"


@pytest.fixture(scope="session")
def test_credentials(moto_endpoint: str) -> tuple[str, str]:
    """An access key of an IAM user in TEST_ACCOUNT: moto answers its requests for that account."""
    from ddbstream.local import clients

    iam = clients.client("iam", moto_endpoint, account_id=TEST_ACCOUNT)
    iam.create_user(UserName="runtime-conformance")
    key = iam.create_access_key(UserName="runtime-conformance")["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


@pytest.fixture(scope="session")
def aws_client_session(
    moto_endpoint: str, test_credentials: tuple[str, str]
) -> Callable[[str], Any]:
    from ddbstream.local import clients

    make = clients.Clients(moto_endpoint, credentials=test_credentials)
    assert make("sts").get_caller_identity()["Account"] == TEST_ACCOUNT
    return make


@pytest.fixture(scope="session")
def lambda_role(aws_client_session: Callable[[str], Any]) -> str:
    iam = aws_client_session("iam")
    name = "ddbstream-runtime-tests"
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


class Lab:
    """One test's table, function, mapping and runtime."""

    def __init__(
        self,
        endpoint: str,
        client: Callable[[str], Any],
        role: str,
        tmp_path: Path,
        credentials: tuple[str, str],
    ) -> None:
        self.endpoint = endpoint
        self.credentials = credentials
        self.account = TEST_ACCOUNT
        self.client = client
        self.ddb = client("dynamodb")
        self.lam = client("lambda")
        self.role = role
        self.tmp = tmp_path
        self.name = "t" + uuid.uuid4().hex[:10]
        self.function_name = "fn-" + self.name
        self.record_file = tmp_path / "calls.jsonl"
        self.state_dir = tmp_path / "state"
        self.stream_arn = ""
        self.function_arn = ""
        self.mapping_uuids: list[str] = []
        self.runtimes: list[Runtime] = []
        self.events: list[dict[str, Any]] = []

    # -- resources -----------------------------------------------------------------------
    def table(self, view: str = "NEW_AND_OLD_IMAGES") -> str:
        t = self.ddb.create_table(
            TableName=self.name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        )
        self.stream_arn = t["TableDescription"]["LatestStreamArn"]
        return self.stream_arn

    def function(
        self,
        source: str,
        *,
        env: dict[str, str] | None = None,
        timeout: int = 3,
        files: dict[str, str] | None = None,
        handler: str = "handler.handler",
        memory: int = 256,
    ) -> str:
        variables = {"RECORD_FILE": str(self.record_file), **(env or {})}
        code = make_zip({"handler.py": RECORDER + "\n" + source, **(files or {})})
        f = self.lam.create_function(
            FunctionName=self.function_name,
            Runtime="python3.12",
            Role=self.role,
            Handler=handler,
            Code={"ZipFile": code},
            Timeout=timeout,
            MemorySize=memory,
            Environment={"Variables": variables},
        )
        self.function_arn = f["FunctionArn"]
        return self.function_arn

    def update_code(self, source: str, files: dict[str, str] | None = None) -> None:
        code = make_zip({"handler.py": RECORDER + "\n" + source, **(files or {})})
        self.lam.update_function_code(FunctionName=self.function_name, ZipFile=code)

    def mapping(self, **options: Any) -> str:
        opts: dict[str, Any] = {"StartingPosition": "TRIM_HORIZON", "BatchSize": 100}
        opts.update(options)
        m = self.lam.create_event_source_mapping(
            EventSourceArn=self.stream_arn, FunctionName=self.function_name, **opts
        )
        self.mapping_uuids.append(m["UUID"])
        return str(m["UUID"])

    def put(self, pk: str, **attrs: Any) -> None:
        item: dict[str, Any] = {"pk": {"S": pk}}
        for k, v in attrs.items():
            if isinstance(v, bool):
                item[k] = {"BOOL": v}
            elif isinstance(v, (int, float)):
                item[k] = {"N": str(v)}
            elif isinstance(v, bytes):
                item[k] = {"B": v}
            else:
                item[k] = {"S": str(v)}
        self.ddb.put_item(TableName=self.name, Item=item)

    def put_many(self, pks: list[str]) -> None:
        """Write items in order, 25 per BatchWriteItem call."""
        for i in range(0, len(pks), 25):
            reqs = [{"PutRequest": {"Item": {"pk": {"S": pk}}}} for pk in pks[i : i + 25]]
            self.ddb.batch_write_item(RequestItems={self.name: reqs})

    def delete(self, pk: str) -> None:
        self.ddb.delete_item(TableName=self.name, Key={"pk": {"S": pk}})

    def queue(self) -> tuple[str, str]:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=f"dlq-{self.name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, arn

    def messages(self, url: str, want: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(out) < want and time.monotonic() < deadline:
            resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for m in resp.get("Messages", []):
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if len(out) < want:
                time.sleep(0.1)
        return out

    # -- runtime -------------------------------------------------------------------------
    def runtime(self, **kw: Any) -> Runtime:
        fn = self.function_name
        kw.setdefault("poll_interval", 0.05)
        kw.setdefault("refresh_interval", 0.1)
        # the retry backoff, scaled down: 20 ms doubling to 200 ms (Lambda-like: 1 s to 60 s)
        kw.setdefault("retry_base_delay", 0.02)
        kw.setdefault("retry_max_delay", 0.2)
        rt = Runtime(
            self.endpoint,
            self.state_dir,
            select=lambda m: m["FunctionArn"].split(":")[6] == fn,
            on_event=self.events.append,
            credentials=self.credentials,
            **kw,
        )
        rt.start()
        self.runtimes.append(rt)
        return rt

    def calls(self) -> list[dict[str, Any]]:
        if not self.record_file.exists():
            return []
        return [json.loads(line) for line in self.record_file.read_text().splitlines() if line]

    def batches(self) -> list[list[str]]:
        """The keys of each invocation's records, one list per invocation."""
        return [c["keys"] for c in self.calls()]

    def delivered(self) -> list[str]:
        """The keys of all records delivered, in invocation order."""
        return [k for c in self.calls() for k in c["keys"]]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def close(self) -> None:
        for rt in self.runtimes:
            rt.stop(timeout=5)
        for u in self.mapping_uuids:
            with contextlib.suppress(Exception):
                self.lam.delete_event_source_mapping(UUID=u)


@pytest.fixture
def lab(
    moto_endpoint: str,
    aws_client_session: Callable[[str], Any],
    lambda_role: str,
    tmp_path: Path,
    test_credentials: tuple[str, str],
) -> Iterator[Lab]:
    the_lab = Lab(moto_endpoint, aws_client_session, lambda_role, tmp_path, test_credentials)
    try:
        yield the_lab
    finally:
        the_lab.close()
