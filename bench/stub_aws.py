"""The latency model: real boto3 clients whose every call is answered by a stub after a fixed delay.

botocore does all of its own work (parameter validation, serialisation, SigV4 signing, response
parsing); only the network is replaced: a ``before-send`` hook checks the request's shape as the
service would, sleeps the modelled latency (releasing the GIL, like a socket wait) and returns a
response in the service's wire format. So a design's CPU and its waiting both count, and two
designs measured under the same model are compared fairly.

Checked shapes (SNS on the call's parameters, S3 on the HTTP request; a violation is recorded
in ``LatencyModel.violations`` and answered with a 400, which botocore raises as a ``ClientError``):

* S3 PutObject: ``PUT /bucket/key``, key at most 1,024 bytes, ``x-amz-server-side-encryption``
  set, ``Content-Type`` set, a gzip body when ``Content-Encoding: gzip``;
* SNS Publish: ``TopicArn``, a ``Message`` of at most 256 KiB, a ``Subject`` of at most 100
  printable ASCII characters without a line break;
* SNS PublishBatch: 1-10 entries with distinct ``Id`` values, at most 256 KiB for the whole
  request's messages and attributes, each entry's ``Subject`` as for Publish, at most 10 message
  attributes per entry.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

MAX_SNS_PAYLOAD = 256 * 1024
_RUN = uuid.uuid4().hex[:12]
_counter = itertools.count()  # next() on a count is atomic: unique ids across threads


def _next_id() -> str:
    return f"{_RUN}-{next(_counter):012d}"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class LatencyModel:
    """Delays per operation (seconds) and the counters of what was called."""

    def __init__(self, s3_ms: float = 25.0, sns_ms: float = 15.0) -> None:
        self.delay = {"PutObject": s3_ms / 1000, "Publish": sns_ms / 1000}
        self.delay["PublishBatch"] = sns_ms / 1000
        self.calls: Counter[str] = Counter()
        self.violations: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.violations.clear()
            self.max_in_flight = 0

    def client(self, service: str, config: Config | None = None) -> Any:
        """A boto3 client of ``service`` answered by this model (``config``: boto3's defaults
        unless given; the processor's is ``ddbstream.adapters.aws.CONFIG``)."""
        c = boto3.session.Session().client(  # type: ignore[call-overload]
            service,
            region_name="us-east-1",
            aws_access_key_id="latency-model",
            aws_secret_access_key="latency-model",
            endpoint_url=f"https://{service}.us-east-1.amazonaws.com",
            config=config,
        )
        c.meta.events.register("before-send", self._send)
        c.meta.events.register("before-parameter-build.sns", self._check_params)
        return c

    # -- the stub ------------------------------------------------------------------------------

    def _send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse:
        op = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.calls[op] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            problem, status, headers, body = self._answer(op, request)
            time.sleep(self.delay.get(op, 0.02))
        finally:
            with self._lock:
                self.in_flight -= 1
        if problem:
            with self._lock:
                self.violations.append(f"{op}: {problem}")
        return AWSResponse(request.url, status, headers, _Raw(body))

    def _check_params(self, params: dict[str, Any], event_name: str = "", **_: Any) -> None:
        """SNS requests are checked on their parameters, before botocore serialises them (so
        the stub spends no CPU parsing the form body the design's CPU is measured on)."""
        op = event_name.rsplit(".", 1)[-1]
        if op == "Publish":
            problem = _check_publish(params)
        elif op == "PublishBatch":
            problem = _check_publish_batch(params)
            entries = params.get("PublishBatchRequestEntries") or []
            self._local.ids = [e.get("Id", "") for e in entries]
        else:
            problem = ""
        if problem:
            self._local.problem = problem

    def _answer(self, op: str, request: Any) -> tuple[str, int, dict[str, str], bytes]:
        if op == "PutObject":
            problem = _check_put(request)
            if problem:
                return problem, 400, {}, _s3_error(problem)
            sse = _header(request, "x-amz-server-side-encryption")
            return "", 200, {"ETag": '"stub"', "x-amz-server-side-encryption": sse}, b""
        problem = getattr(self._local, "problem", "")
        self._local.problem = ""
        if not problem and "x-www-form-urlencoded" not in _header(request, "Content-Type"):
            problem = "not a form-encoded query request"
        if problem:
            return problem, 400, {}, _sns_error(problem)
        if op == "Publish":
            return "", 200, {}, _publish_response()
        if op == "PublishBatch":
            ids = getattr(self._local, "ids", [])
            return "", 200, {}, _publish_batch_response(ids)
        return f"operation {op} is not modelled", 400, {}, _sns_error(op)


def _header(request: Any, name: str) -> str:
    v = request.headers.get(name)
    return v.decode() if isinstance(v, bytes) else (v or "")


def _body(request: Any) -> bytes:
    """The payload as sent: reading it also runs botocore's streaming checksum, as a socket
    send would. An ``aws-chunked`` body (botocore's default for PutObject) is decoded."""
    body = request.body
    if body is None:
        return b""
    data = (
        body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else body.read()
    )
    if "aws-chunked" not in _header(request, "Content-Encoding"):
        return data
    out, pos = bytearray(), 0
    while True:
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2


def _check_put(request: Any) -> str:
    if request.method != "PUT":
        return f"method {request.method}"
    path = unquote(urlsplit(request.url).path)
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key or len(key.encode()) > 1024:
        return f"bad bucket/key {path[:80]!r}"
    if _header(request, "x-amz-server-side-encryption") not in ("AES256", "aws:kms"):
        return "no x-amz-server-side-encryption"
    if not _header(request, "Content-Type"):
        return "no Content-Type"
    data = _body(request)
    if "gzip" in _header(request, "Content-Encoding") and not data.startswith(b"\x1f\x8b"):
        return "Content-Encoding gzip but the body is not gzip"
    return ""


def _check_subject(subject: str | None) -> str:
    if subject is None:
        return ""
    if not subject or len(subject) > 100 or not subject.isascii() or not subject.isprintable():
        return f"bad Subject {subject[:40]!r}"
    return ""


def _attributes_size(attrs: dict[str, Any]) -> int:
    """Name, type and value of each attribute, as SNS counts them (characters: the bench's
    values are ASCII)."""
    return sum(
        len(k) + len(a.get("DataType", "")) + len(a.get("StringValue", ""))
        for k, a in attrs.items()
    )


def _check_publish(p: dict[str, Any]) -> str:
    if not p.get("TopicArn"):
        return "no TopicArn"
    msg = p.get("Message", "")
    if not msg or len(msg.encode()) > MAX_SNS_PAYLOAD:
        return f"Message of {len(msg.encode())} bytes"
    return _check_subject(p.get("Subject"))


def _check_publish_batch(p: dict[str, Any]) -> str:
    entries = p.get("PublishBatchRequestEntries") or []
    if not p.get("TopicArn"):
        return "no TopicArn"
    if not 1 <= len(entries) <= 10:
        return f"{len(entries)} entries (1-10)"
    ids = [e.get("Id", "") for e in entries]
    if len(set(ids)) != len(ids) or not all(ids):
        return "entry Ids missing or not distinct"
    size = 0
    for e in entries:
        if not e.get("Message"):
            return "an entry without Message"
        attrs = e.get("MessageAttributes") or {}
        if len(attrs) > 10:
            return f"{len(attrs)} message attributes"
        size += len(e["Message"].encode()) + _attributes_size(attrs)
        problem = _check_subject(e.get("Subject"))
        if problem:
            return problem
    if size > MAX_SNS_PAYLOAD:
        return f"batch payload {size} bytes > 256 KiB"
    return ""


def _publish_response() -> bytes:
    return (
        '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
        f"<MessageId>{_next_id()}</MessageId></PublishResult>"
        f"<ResponseMetadata><RequestId>{_next_id()}</RequestId></ResponseMetadata>"
        "</PublishResponse>"
    ).encode()


def _publish_batch_response(ids: list[str]) -> bytes:
    members = "".join(
        f"<member><Id>{i}</Id><MessageId>{_next_id()}</MessageId></member>" for i in ids
    )
    return (
        '<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<PublishBatchResult><Successful>{members}</Successful><Failed/></PublishBatchResult>"
        f"<ResponseMetadata><RequestId>{_next_id()}</RequestId></ResponseMetadata>"
        "</PublishBatchResponse>"
    ).encode()


def _sns_error(message: str) -> bytes:
    return (
        "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>stub</RequestId></ErrorResponse>"
    ).encode()


def _s3_error(message: str) -> bytes:
    return (
        f"<Error><Code>InvalidRequest</Code><Message>{escape(message)}</Message>"
        "<RequestId>stub</RequestId></Error>"
    ).encode()
