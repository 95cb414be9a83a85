"""The embedded AWS emulator: moto's server, in process, on a loopback port.

Every change this project makes to moto's behaviour lives here, applied by :func:`patch_moto`:

* moto's own DynamoDB-stream-to-Lambda path is switched off. Left on, it tries to run the
  function in Docker on every write to a mapped table and, once an invocation "succeeds", drops
  the stream's records (and restarts its sequence numbers). The local runtime
  (:mod:`ddbstream.local.runtime`) reads the stream itself, with AWS's semantics.
* Lambda's validation of event source mappings on DynamoDB streams: a CreateEventSourceMapping
  or UpdateEventSourceMapping that Lambda refuses (AT_TIMESTAMP, no StartingPosition,
  MaximumRecordAgeInSeconds outside -1 and 60-604,800, more than five filters, an invalid
  filter pattern, ...) is refused with Lambda's error type and message (the rules:
  :mod:`ddbstream.local.runtime.validation`); moto would store it. ``LastProcessingResult``
  is Lambda's ("No records processed", then what the local runtime last saw) instead of null.
  A mapping on an alias keeps the alias's ARN (moto stores the version it pointed at).
* ``aws:SecureTransport`` is evaluated as true in resource policies (see
  :func:`_fix_policy_conditions`).
* DynamoDB stream records get an ``eventID`` derived from the table, the stream and the sequence
  number instead of a random one, so a crash recovery's replay reproduces them (see
  :func:`_deterministic_stream_event_ids`).
* Reproducible requests: while moto applies a journaled request (:func:`reproducible`), every id
  it draws (moto's ``mock_random``, ``os.urandom``, hence ``uuid.uuid4``) comes from a generator
  seeded for that request alone, and its clock (``moto.core.utils.utcnow``) reads the request's
  time, so a crash recovery's replay of the journal recreates every resource with the id, ARN
  and timestamps it had; an SQS ReceiveMessage reports the receipt handles it gave out
  (:func:`receipts`), which the journal keeps and a replay gives back (:func:`apply_receipts`).
  See :func:`_reproducible_requests` and :mod:`ddbstream.local.journal`.
* CloudWatch: alarms start in INSUFFICIENT_DATA and keep their state when updated, a change of
  state publishes CloudWatch's notification to the alarm's SNS actions, DescribeAlarmHistory
  answers, and EMF documents in Lambda log groups become metrics (the patch lives with the rest
  of the local CloudWatch, :mod:`ddbstream.local.monitoring.cloudwatch`).
* DynamoDB Streams' ``GetShardIterator`` answers as AWS does for a shard that is not there
  (``ResourceNotFoundException``) and for a sequence number before the shard's first record
  (``TrimmedDataAccessException``: on AWS, a record older than the 24-hour retention), where
  moto fails an assertion (HTTP 500). See :func:`_stream_errors_as_on_aws`.
* A function's ``LoggingConfig`` (log format, levels, group) is kept and returned, as Lambda
  does; moto drops it, and Terraform would then plan to set it again on every apply (see
  :func:`_keep_lambda_logging_config`).
* ``ListEventSourceMappings`` filters by the function however it is named (name, ARN, partial
  ARN), as Lambda does; moto compared the text the mapping was created with (see
  :func:`_mappings_listed_by_function_name`).
* S3 bucket metrics configurations (``PutBucketMetricsConfiguration``, Get, Delete:
  ``?metrics&id=ID``) are kept per bucket and returned as put; moto has none and would create
  the bucket again or list its objects (see :func:`_s3_bucket_metrics_configurations`); an
  object put under such a configuration's prefix counts 1 in ``AWS/S3`` ``PutRequests``
  (dimensions ``BucketName``, ``FilterId``), S3's request metric, so an alarm on it fires.
* SNS delivers a published message to the topic's subscribers after Publish/PublishBatch has
  answered, from a background thread (:data:`deliveries`), as SNS does; moto delivers inside the
  call, so every subscriber (an SQS queue: an X.509 certificate built and two RSA signatures
  per message) slowed the publisher and held the journal's turn for writes. Nothing accepted is
  lost: a snapshot waits for the deliveries accepted before it, and a journal replay delivers
  each replayed message before the next request (see :class:`Deliveries`).
* An SNS message delivered in SNS's JSON envelope (an SQS subscriber without raw delivery: the
  local inbox) is signed with one signing certificate per subscription, made once, as SNS signs
  with a long-lived certificate at a stable ``SigningCertURL``; moto made a certificate per
  message (an RSA signature) and kept every certificate's PEM in memory for good (see
  :func:`_sns_signing_certificate_once`).
* moto's record of every message published to a topic is not kept (nothing reads it; it grew
  without bound and every snapshot copied it: :func:`_forget_sent_notifications`).
* Two of moto's per-request costs that grow with the work: the list of its service modules is
  read from disk once, not on every request, and SQS ReceiveMessage checks a message's
  retention against the queue's period directly, where moto computed every attribute of the
  queue (each counting all its messages) for every message it looked at: quadratic in the
  queue's depth; SendMessage (an SNS delivery too) likewise reads only the one attribute it
  uses, and the visible messages are chosen with one clock reading, not two per message (see
  :func:`_cheaper_request_paths`).
* Athena's ``DeleteNamedQuery``, which moto lacks (HTTP 500): ``terraform destroy`` of the
  stack's named query would otherwise retry until it times out (see
  :func:`_athena_delete_named_query`).

The server itself is werkzeug's threaded server, with a request handler that keeps HTTP/1.1
connections open (see :func:`_keep_alive_handler`), around moto's WSGI application behind the
write-ahead journal (:mod:`ddbstream.local.journal`), on a loopback address only unless told.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import ipaddress
import json
import logging
import os
import random
import socket
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ddbstream.errors import UserError
from ddbstream.local.clients import ACCESS_KEY, ACCOUNT_ID, REGION, SECRET_KEY
from ddbstream.local.fifo import SerialWorker
from ddbstream.local.journal import DurableApp

__all__ = [
    "ACCESS_KEY",
    "ACCOUNT_ID",
    "ALLOW_NON_LOOPBACK_ENV",
    "LOOPBACK_HOSTS",
    "REGION",
    "SECRET_KEY",
    "Deliveries",
    "Emulator",
    "NotLoopbackError",
    "apply_receipts",
    "deliveries",
    "free_port",
    "is_loopback",
    "moto_app",
    "non_loopback_allowed",
    "patch_moto",
    "receipts",
    "reproducible",
    "require_loopback",
    "running",
    "start",
]

_patch_lock = threading.Lock()
_patched = False


def _disable_moto_lambda_side_effects() -> None:
    """Stop moto from invoking functions for stream writes (see module docstring)."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        from moto.awslambda import models as lambda_models
        from moto.core.config import default_user_config

        default_user_config["lambda"]["use_docker"] = False
        default_user_config["batch"]["use_docker"] = False

        def _no_stream_invoke(self: object, function_arn: str, items: list, source: str) -> None:
            return None

        lambda_models.LambdaBackend.send_dynamodb_items = _no_stream_invoke  # type: ignore[method-assign]
        _patched = True


def patch_moto() -> None:
    """Apply this project's changes to moto's behaviour (idempotent; see the module docstring)."""
    _disable_moto_lambda_side_effects()
    _deliver_sns_after_publish()
    _forget_sent_notifications()
    _sns_signing_certificate_once()
    _cheaper_request_paths()
    _validate_event_source_mappings()
    _fix_policy_conditions()
    _stream_errors_as_on_aws()
    _keep_lambda_logging_config()
    _deterministic_stream_event_ids()
    _reproducible_requests()
    _mappings_listed_by_function_name()
    _s3_bucket_metrics_configurations()
    _athena_delete_named_query()
    _appautoscaling_tags()
    from ddbstream.local.monitoring import cloudwatch

    cloudwatch.install()


class Deliveries:
    """SNS deliveries to subscribers, made by a background thread after Publish answered.

    SNS accepts a message, answers the publisher, then delivers it to each subscription: AWS's
    "Amazon SNS message delivery retries" page has an SQS or Lambda delivery retried for up to
    23 days, which no Publish call waits for.
    moto delivers inside the call; :func:`_deliver_sns_after_publish` hands each subscription's
    delivery to this queue instead, delivered in the order accepted.

    Durability: a delivery is derived state. The Publish request is in the write-ahead journal
    (:mod:`ddbstream.local.journal`) before it is answered; the delivery itself is not
    journaled. So ``settle()`` is called before every snapshot (a snapshot holding a Publish
    holds its deliveries too) and after each request a journal replay applies (a replay
    delivers as moto did, in request order). A crash after Publish answered and before its
    delivery loses the delivery from memory only: the replay of the journaled Publish makes it
    again. A crash after the delivery (and, say, the subscriber receiving it) also replays it:
    at least once, as before. A delivery submitted by a journaled Publish runs with a seed
    derived from the Publish's (:func:`derived_request`), so its queue message keeps its id on a
    replay, and a receive and delete before the crash are replayed too (see
    :func:`receipts`): such a message is not delivered again.
    """

    def __init__(self) -> None:
        self._worker = SerialWorker("sns-deliveries")
        self.delivered = 0
        self.failed = 0

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        # Submitted by a journaled Publish: delivered with a seed derived from its own, so the
        # queue message a delivery makes has the same id on a replay.
        seeded = derived_request()
        self._worker.submit(functools.partial(self._deliver, fn, args, kwargs, seeded))

    @property
    def pending(self) -> int:
        return self._worker.pending

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every delivery accepted so far is made; False if ``timeout`` ran out."""
        return self._worker.wait(timeout)

    def _deliver(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        seeded: tuple[str, float] | None = None,
    ) -> None:
        try:
            with reproducible(*seeded) if seeded is not None else contextlib.nullcontext():
                fn(*args, **kw)
            self.delivered += 1
        except Exception:  # a subscriber gone (its queue deleted): SNS drops it too, in the end
            self.failed += 1
            logging.getLogger("ddbstream.local.emulator").warning(
                "SNS delivery to a subscriber failed", exc_info=True
            )


#: The emulator's SNS deliveries (one queue for the process: moto's backends are global).
deliveries = Deliveries()

_sns_patch_lock = threading.Lock()
_sns_patched = False


def _deliver_sns_after_publish() -> None:
    """moto's ``Subscription.publish`` (one delivery) goes to :data:`deliveries`. What can fail
    the Publish call itself (a message structure that is not valid JSON) is still checked in the
    call."""
    global _sns_patched
    with _sns_patch_lock:
        if _sns_patched:
            return
        from moto.sns.models import Subscription

        original = Subscription.publish

        def publish(self: Any, message: str, message_id: str, *args: Any, **kw: Any) -> None:
            if kw.get("message_structure") == "json":
                self._parse_message_structure(message, self.protocol)  # raises as before
            deliveries.submit(original, self, message, message_id, *args, **kw)

        Subscription.publish = publish  # type: ignore[method-assign]
        _sns_patched = True


_sent_patch_lock = threading.Lock()
_sent_patched = False


def _forget_sent_notifications() -> None:
    """moto keeps every message ever published to a topic (``Topic.sent_notifications``, for
    tests that look inside moto; nothing here reads it, and SNS keeps nothing): at 100
    notifications a second that grew the process by about 250 MB an hour, and every snapshot
    copied it while the stack waited (10.6 MB of a 30 MB snapshot after one bench run). The
    record is emptied after each publish (a topic restored from an older snapshot too)."""
    global _sent_patched
    with _sent_patch_lock:
        if _sent_patched:
            return
        from moto.sns.models import Topic

        original = Topic.publish

        def publish(self: Any, *args: Any, **kw: Any) -> str:
            try:
                return original(self, *args, **kw)  # type: ignore[no-any-return]
            finally:
                self.sent_notifications.clear()

        Topic.publish = publish  # type: ignore[method-assign]
        _sent_patched = True


_signing_patch_lock = threading.Lock()
_signing_patched = False


def _sns_signing_certificate_once() -> None:
    """The SNS envelope of a delivery (``Type``, ``MessageId``, ``TopicArn``, ``Subject``,
    ``Message``, ``Timestamp``, ``SignatureVersion`` 2, ``Signature``, ``SigningCertURL``,
    ``UnsubscribeURL``, ``MessageAttributes``), signed as AWS documents ("Verifying the
    signatures of Amazon SNS messages": SHA256withRSA over each present field's name and value
    on lines of their own, in the order Message, MessageId, Subject, Timestamp, TopicArn, Type),
    with a certificate made once per subscription key. Its PEM is served where moto serves
    them (the ``SigningCertURL``'s key name), so a subscriber can still verify.

    The key is RSA 1,024-bit where moto makes 2,048: signing is 0.15 ms instead of 0.9 ms a
    message here, and it was nearly all of the delivery thread's time (7% of ``up``'s samples
    at 100 notifications a second), holding the interpreter while the handler's next requests
    waited. The certificate is local and self-signed; verifying works the same way."""
    global _signing_patched
    with _signing_patch_lock:
        if _signing_patched:
            return
        import base64
        import uuid
        import weakref
        from datetime import UTC, datetime, timedelta

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.x509.oid import NameOID
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns import models as sns_models

        @functools.lru_cache
        def private_key(self: Any) -> rsa.RSAPrivateKey:
            return rsa.generate_private_key(public_exponent=65537, key_size=1024)

        sns_models.Subscription.private_key = private_key  # type: ignore[method-assign]

        certs: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        certs_lock = threading.Lock()

        def cert_name(sub: Any, key: Any) -> str:
            with certs_lock:
                name = certs.get(sub)
                if name is not None:
                    return name
                now = datetime.now(UTC)
                cert = (
                    x509.CertificateBuilder()
                    .subject_name(
                        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
                    )
                    .issuer_name(
                        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ddbstream local SNS")])
                    )
                    .public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - timedelta(minutes=5))
                    .not_valid_after(now + timedelta(days=365))
                    .sign(key, hashes.SHA256())
                )
                name = f"SimpleNotificationService-{uuid.uuid4().hex}.pem"
                region = sub.topic.sns_backend.region_name
                served = sns_models.sns_backends[DEFAULT_ACCOUNT_ID][region]._message_public_keys
                served[name] = cert.public_bytes(serialization.Encoding.PEM)
                certs[sub] = name
                return name

        def get_post_data(
            self: Any,
            message: str,
            message_id: str,
            subject: str | None,
            message_attributes: dict[str, Any] | None = None,
        ) -> dict[str, Any]:
            key = self.private_key()
            region = self.topic.sns_backend.region_name
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            signed = [("Message", message), ("MessageId", message_id)]
            if subject:
                signed.append(("Subject", subject))
            signed += [("Timestamp", stamp), ("TopicArn", self.topic.arn), ("Type", "Notification")]
            text = "".join(f"{k}\n{v}\n" for k, v in signed)
            signature = key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
            data: dict[str, Any] = {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": self.topic.arn,
                "Message": message,
                "Timestamp": stamp,
                "SignatureVersion": "2",
                "Signature": base64.b64encode(signature).decode("ascii"),
                "SigningCertURL": f"https://sns.{region}.amazonaws.com/{cert_name(self, key)}",
                "UnsubscribeURL": f"https://sns.{region}.amazonaws.com/"
                f"?Action=Unsubscribe&SubscriptionArn={self.arn}",
            }
            if subject:
                data["Subject"] = subject
            if message_attributes:
                data["MessageAttributes"] = message_attributes
            return data

        sns_models.Subscription.get_post_data = get_post_data  # type: ignore[method-assign]
        _signing_patched = True


_paths_patch_lock = threading.Lock()
_paths_patched = False


def _cheaper_request_paths() -> None:
    """moto's module list read once; SQS's retention check without computing every attribute,
    its visible messages with one clock reading (see the module docstring). Same answers as
    moto's."""
    global _paths_patched
    with _paths_patch_lock:
        if _paths_patched:
            return
        from moto import backends
        from moto.core.utils import unix_time
        from moto.sqs.models import SQSBackend

        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]

        def is_message_valid_based_on_retention_period(
            self: Any, queue_name: str, message: Any
        ) -> bool:
            period = int(self.get_queue(queue_name).message_retention_period)
            return bool(period + message.sent_timestamp / 1000 > unix_time())

        SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
            is_message_valid_based_on_retention_period
        )

        # SendMessage reads only ContentBasedDeduplication from the queue's attributes (three
        # times), but moto computes them all, counting the queue's messages each time: a
        # subscriber's queue filling during a burst made every delivery slower than the last.
        from moto.sqs.models import Queue

        every_attribute = Queue.attributes.fget  # type: ignore[attr-defined]
        sending = threading.local()

        def attributes(self: Any) -> dict[str, Any]:
            if not getattr(sending, "active", False):
                return every_attribute(self)  # type: ignore[no-any-return]
            if not self.fifo_queue:  # moto lists FIFO attributes for FIFO queues only
                return {}
            return {
                "ContentBasedDeduplication": str(bool(self.content_based_deduplication)).lower()
            }

        original_send = SQSBackend.send_message

        def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
            sending.active = True
            try:
                return original_send(self, *args, **kwargs)
            finally:
                sending.active = False

        Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
        SQSBackend.send_message = send_message  # type: ignore[method-assign]

        # The messages a ReceiveMessage may take: moto read the clock twice per message of the
        # queue (visible, not delayed), which was 6% of `up`'s samples with the inbox's queue
        # a burst deep. Once per call now; the same comparisons.
        from moto.core.utils import unix_time_millis

        def messages(self: Any) -> list[Any]:
            now = unix_time_millis()
            return [m for m in self._messages if now > m.visible_at and now >= m.delayed_until]

        Queue.messages = property(messages)  # type: ignore[assignment,method-assign]
        _paths_patched = True


_mappings_lock = threading.Lock()
_mappings_patched = False


def _function_key(ref: str) -> tuple[str, str | None]:
    """(name, qualifier) of a function name, ARN or partial ARN (``[ACCOUNT:]function:NAME``)."""
    parts = ref.split(":")
    if "function" in parts:
        i = parts.index("function")
        return parts[i + 1], (parts[i + 2] if len(parts) > i + 2 else None)
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _mappings_listed_by_function_name() -> None:
    """``ListEventSourceMappings(FunctionName=...)`` takes a name, an ARN or a partial ARN, as
    Lambda does. moto compares the text given when the mapping was created (Terraform gives the
    ARN), so the seed README's ``aws lambda list-event-source-mappings --function-name NAME``
    listed nothing."""
    global _mappings_patched
    with _mappings_lock:
        if _mappings_patched:
            return
        from moto.awslambda import models as lambda_models

        original = lambda_models.LambdaBackend.list_event_source_mappings

        def list_event_source_mappings(self: Any, event_source_arn: str, function_name: str) -> Any:
            found = original(self, event_source_arn, None)
            if not function_name:
                return found
            wanted = _function_key(function_name)
            return [m for m in found if _function_key(str(m.function_name)) == wanted]

        lambda_models.LambdaBackend.list_event_source_mappings = list_event_source_mappings  # type: ignore[method-assign]
        _mappings_patched = True


_event_id_lock = threading.Lock()
_event_id_patched = False


def _deterministic_stream_event_ids() -> None:
    """A stream record's ``eventID`` derived from its table, stream and sequence number.

    moto draws a random id for each record; a crash recovery replays the writes
    (:mod:`ddbstream.local.journal`) and must give each record the id it had, or a change
    re-processed after the crash would look like a new one in the deduplicated audit view. AWS
    documents the id only as a unique identifier of the event (32 hex digits here too)."""
    global _event_id_patched
    with _event_id_lock:
        if _event_id_patched:
            return
        import hashlib

        from moto.dynamodb.models import table as table_models

        original = table_models.StreamRecord.__init__

        def __init__(self: Any, table: Any, stream_type: str, event_name: str, *a: Any, **k: Any):
            original(self, table, stream_type, event_name, *a, **k)
            seq = self.record["dynamodb"]["SequenceNumber"]
            ident = f"{table.table_arn}/{table.latest_stream_label}/{seq}"
            self.record["eventID"] = hashlib.md5(ident.encode(), usedforsecurity=False).hexdigest()

        table_models.StreamRecord.__init__ = __init__  # type: ignore[method-assign]
        _event_id_patched = True


#: What moto draws while it applies one journaled request in this thread (see reproducible()):
#: ``rng`` (every id), ``now`` (its clock), ``receipts`` (SQS receipt handles given out).
_request = threading.local()
_repro_lock = threading.Lock()
_repro_patched = False


def _now_hook() -> datetime.datetime:
    """The body :func:`moto.core.utils.utcnow` runs once patched (in that module's globals)."""
    return _ddbstream_utcnow()  # type: ignore[name-defined, no-any-return]  # noqa: F821


def _reproducible_requests() -> None:
    """Make what moto draws while applying a request depend only on that request's seed and time.

    moto draws ids (event source mapping UUIDs, KMS key ids, SQS message ids, SNS subscription
    ARNs, Athena query ids, ...) from one shared generator, ``mock_random``, and some from
    ``os.urandom`` (``uuid.uuid4``, S3 upload ids, KMS key material); it reads its clock through
    ``moto.core.utils.utcnow`` (a DynamoDB stream's label, hence its ARN; stream records'
    ``ApproximateCreationDateTime``; Lambda's ``LastModified``; SQS timestamps). Inside
    :func:`reproducible` (one thread, one request) all three answer from that request's own
    generator and time; in any other thread, or outside, they behave as before. A per-thread
    generator (not reseeding the shared one) keeps reads served at the same time, which are not
    journaled, from taking draws out of a journaled request's sequence."""
    global _repro_patched
    with _repro_lock:
        if _repro_patched:
            return
        from moto.core import utils as core_utils
        from moto.moto_api._internal import mock_random
        from moto.moto_api._internal.moto_random import MotoRandom

        class PerRequestRandom(MotoRandom):
            # Random's other methods (choice, uuid4, get_random_hex, ...) draw through these.
            def random(self) -> float:
                rng = getattr(_request, "rng", None)
                return rng.random() if rng is not None else super().random()

            def getrandbits(self, k: int) -> int:
                rng = getattr(_request, "rng", None)
                return rng.getrandbits(k) if rng is not None else super().getrandbits(k)

        mock_random.__class__ = PerRequestRandom  # the one instance every moto module imported

        system_urandom = os.urandom

        def urandom(size: int) -> bytes:
            rng = getattr(_request, "rng", None)
            return rng.randbytes(size) if rng is not None else system_urandom(size)

        os.urandom = urandom

        # Modules import utcnow by name, some lazily: the function itself must change, so its
        # code is swapped for one calling the hook below (a copy of the original stays).
        utcnow = core_utils.utcnow
        system_utcnow = types.FunctionType(utcnow.__code__, utcnow.__globals__, "utcnow")

        def now() -> datetime.datetime:
            frozen = getattr(_request, "now", None)
            return frozen if frozen is not None else system_utcnow()  # type: ignore[no-any-return]

        core_utils.__dict__["_ddbstream_utcnow"] = now
        utcnow.__code__ = _now_hook.__code__

        # A service's module, its Flask app and its per-account and per-region backends are
        # made on first use, drawing ids for themselves; live that may be a read (not seeded)
        # or a request long before the last snapshot, in a replay the first request journaled
        # after it: made outside the request's generator, they draw nothing from it.
        from moto import backends
        from moto.core import base_backend
        from moto.moto_server import werkzeug_app

        def unseeded(original: Any) -> Any:
            def call(*a: Any, **k: Any) -> Any:
                rng = getattr(_request, "rng", None)
                if rng is None:
                    return original(*a, **k)
                _request.rng = None
                try:
                    return original(*a, **k)
                finally:
                    _request.rng = rng

            return call

        backends._import_backend = unseeded(backends._import_backend)
        base_backend.BackendDict._create_account_specific_backend = unseeded(  # type: ignore[method-assign]
            base_backend.BackendDict._create_account_specific_backend
        )
        base_backend.AccountSpecificBackend.__getitem__ = unseeded(  # type: ignore[method-assign]
            base_backend.AccountSpecificBackend.__getitem__
        )
        werkzeug_app.DomainDispatcherApplication.get_application = unseeded(  # type: ignore[method-assign]
            werkzeug_app.DomainDispatcherApplication.get_application
        )

        from moto.sqs import models as sqs_models

        receive = sqs_models.SQSBackend.receive_message

        def receive_message(self: Any, queue_name: str, *a: Any, **k: Any) -> Any:
            result = receive(self, queue_name, *a, **k)
            seen = getattr(_request, "receipts", None)
            if seen is not None:
                queue = self.get_queue(queue_name)
                by_id = {m.id: m for m in queue._messages}
                for copy in result:
                    m = by_id.get(copy.id)
                    if m is not None:
                        seen.append(
                            [
                                self.account_id,
                                self.region_name,
                                queue_name,
                                m.id,
                                m.receipt_handle,
                                m.visible_at,
                                m.approximate_first_receive_timestamp,
                            ]
                        )
            return result

        sqs_models.SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
        _repro_patched = True


@contextlib.contextmanager
def reproducible(seed: str, at: float) -> Iterator[None]:
    """While moto applies one request in this thread: its ids come from a generator seeded
    with ``seed`` and its clock reads ``at`` (epoch seconds). Applying the same request to the
    same state with the same seed and time gives the same ids, ARNs and timestamps."""
    _reproducible_requests()
    saved = [getattr(_request, name, None) for name in ("rng", "now", "seed", "at", "derived")]
    _request.rng = random.Random(seed)
    _request.now = datetime.datetime.fromtimestamp(at, datetime.UTC).replace(tzinfo=None)
    _request.seed, _request.at, _request.derived = seed, at, 0
    try:
        yield
    finally:
        for name, value in zip(("rng", "now", "seed", "at", "derived"), saved, strict=True):
            setattr(_request, name, value)


def derived_request() -> tuple[str, float] | None:
    """Within :func:`reproducible`: a seed of its own (and the request's time) for work the
    request hands to another thread (an SNS delivery), the n-th such seed of the request each
    time; None outside."""
    seed = getattr(_request, "seed", None)
    if seed is None:
        return None
    _request.derived += 1
    return f"{seed}/{_request.derived}", float(_request.at)


@contextlib.contextmanager
def receipts() -> Iterator[list[list[Any]]]:
    """The SQS receipt handles moto gives out in this thread meanwhile (a ReceiveMessage), one
    ``[account, region, queue, message id, handle, visible_at, first receive]`` per message."""
    _reproducible_requests()
    seen: list[list[Any]] = []
    _request.receipts = seen
    try:
        yield seen
    finally:
        _request.receipts = None


def apply_receipts(given: list[list[Any]]) -> None:
    """Give messages the receipt handles a ReceiveMessage gave them before a crash (see
    :func:`receipts`), so a replayed DeleteMessage that names one deletes its message; a message
    no longer there (deleted since) is skipped."""
    from moto.sqs.models import sqs_backends

    for account, region, queue_name, message_id, handle, visible_at, first in given:
        try:
            queue = sqs_backends[account][region].get_queue(queue_name)
        except Exception:  # the queue is gone: nothing to give back
            continue
        for m in queue._messages:
            if m.id == message_id:
                m._old_receipt_handles.append(m.receipt_handle)
                m.receipt_handle = handle
                m.approximate_receive_count += 1
                m.approximate_first_receive_timestamp = (
                    m.approximate_first_receive_timestamp or first
                )
                m.visible_at = visible_at
                queue.pending_messages.add(m)
                break


_metrics_patch_lock = threading.Lock()
_metrics_patched = False


def _s3_bucket_metrics_configurations() -> None:
    """``?metrics&id=ID`` on a bucket: PUT keeps the configuration document, GET returns it
    (404 ``NoSuchConfiguration`` when there is none), DELETE removes it (204), as S3 does; the
    Terraform resource ``aws_s3_bucket_metric`` (the failed-batches bucket's alarm) needs them.
    Kept on moto's bucket object, so a ``down`` snapshot keeps them too."""
    global _metrics_patched
    with _metrics_patch_lock:
        if _metrics_patched:
            return
        from moto.s3.responses import S3Response

        def configs(self: Any, bucket_name: str) -> dict[str, bytes]:
            bucket = self.backend.get_bucket(bucket_name)  # NoSuchBucket as usual
            found: dict[str, bytes] | None = getattr(bucket, "ddbstream_metrics", None)
            if found is None:
                found = {}
                bucket.ddbstream_metrics = found
            return found

        def config_id(querystring: dict[str, Any]) -> str:
            return str((querystring.get("id") or [""])[0])

        def not_found(ident: str) -> Any:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchConfiguration</Code>'
                f"<Message>The specified configuration does not exist.</Message><Id>{ident}</Id>"
                "</Error>"
            )
            return 404, {"Content-Type": "application/xml"}, body

        original_put = S3Response._bucket_response_put
        original_get = S3Response._bucket_response_get
        original_delete = S3Response._bucket_response_delete

        def put(self: Any, request: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
            if "metrics" not in querystring:
                return original_put(self, request, bucket_name, querystring)
            body = self.body if isinstance(self.body, bytes) else str(self.body).encode()
            configs(self, bucket_name)[config_id(querystring)] = body
            return 204, {}, ""

        def get(self: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
            if "metrics" not in querystring:
                return original_get(self, bucket_name, querystring)
            ident = config_id(querystring)
            body = configs(self, bucket_name).get(ident)
            if body is None:
                return not_found(ident)
            return 200, {"Content-Type": "application/xml"}, body

        def delete(self: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
            if "metrics" not in querystring:
                return original_delete(self, bucket_name, querystring)
            configs(self, bucket_name).pop(config_id(querystring), None)
            return 204, {}, ""

        S3Response._bucket_response_put = put  # type: ignore[method-assign]
        S3Response._bucket_response_get = get  # type: ignore[method-assign]
        S3Response._bucket_response_delete = delete  # type: ignore[method-assign]
        _count_put_requests()
        _metrics_patched = True


def _count_put_requests() -> None:
    """S3 request metrics: each object put into a bucket with a metrics configuration whose
    prefix (none: every object) matches its key adds 1 to ``AWS/S3`` ``PutRequests``, dimensions
    ``BucketName`` and ``FilterId`` (the configuration's id), as S3 publishes them (one-minute
    data; only the prefix filter is interpreted)."""
    import re
    from datetime import UTC, datetime

    from moto.s3.models import S3Backend

    original = S3Backend.put_object

    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        result = original(self, bucket_name, key_name, *args, **kwargs)
        with contextlib.suppress(Exception):  # the metric never fails the PUT
            bucket = self.get_bucket(bucket_name)
            found: dict[str, bytes] = getattr(bucket, "ddbstream_metrics", None) or {}
            if found:
                from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

                now = datetime.now(UTC).replace(tzinfo=None)
                backend = cloudwatch_backends[self.account_id][bucket.region_name]
                for ident, body in found.items():
                    m = re.search(rb"<Prefix>([^<]*)</Prefix>", body)
                    prefix = m.group(1).decode() if m else ""
                    if key_name.startswith(prefix):
                        dims = [
                            {"Name": "BucketName", "Value": bucket_name},
                            {"Name": "FilterId", "Value": ident},
                        ]
                        backend.metric_data.append(
                            MetricDatum("AWS/S3", "PutRequests", 1.0, dims, now, "Count")
                        )
        return result

    S3Backend.put_object = put_object  # type: ignore[method-assign]


_athena_patch_lock = threading.Lock()
_athena_patched = False


def _athena_delete_named_query() -> None:
    """Athena's DeleteNamedQuery (moto has none): the query is gone. An unknown id is answered
    with InvalidRequestException, the error type Athena's API reference lists for the call
    (what AWS says for a missing id is not documented: assumed).

    GetNamedQuery of an unknown id: InvalidRequestException "... does not exist" (moto raised
    AttributeError, HTTP 500). The AWS provider reads that type and wording as "gone" and
    creates the query again; AWS's exact message is not documented (assumed from the
    provider)."""
    global _athena_patched
    with _athena_patch_lock:
        if _athena_patched:
            return
        from moto.athena import models as athena_models
        from moto.athena import responses as athena_responses
        from moto.core.exceptions import JsonRESTError

        def delete_named_query(self: Any, query_id: str) -> None:
            if self.named_queries.pop(query_id, None) is None:
                raise JsonRESTError(
                    "InvalidRequestException", f"NamedQuery {query_id} was not found"
                )

        def respond(self: Any) -> str:
            self.athena_backend.delete_named_query(self._get_param("NamedQueryId"))
            return "{}"

        original_get = athena_responses.AthenaResponse.get_named_query

        def get_named_query(self: Any) -> str:
            query_id = self._get_param("NamedQueryId")
            if self.athena_backend.get_named_query(query_id) is None:
                raise JsonRESTError(
                    "InvalidRequestException", f"NamedQuery {query_id} does not exist"
                )
            return original_get(self)  # type: ignore[no-any-return]

        athena_models.AthenaBackend.delete_named_query = delete_named_query  # type: ignore[attr-defined]
        athena_responses.AthenaResponse.delete_named_query = respond  # type: ignore[attr-defined]
        athena_responses.AthenaResponse.get_named_query = get_named_query  # type: ignore[method-assign]
        _athena_patched = True


_appautoscaling_patch_lock = threading.Lock()
_appautoscaling_patched = False
#: Tags of Application Auto Scaling resources by ARN (not in the saved emulator state).
_appautoscaling_tags_by_arn: dict[str, dict[str, str]] = {}


def _appautoscaling_tags() -> None:
    """Application Auto Scaling's TagResource, UntagResource and ListTagsForResource, which
    moto (5.2) lacks: it answers them with a 500 that the AWS provider retries for minutes on
    every tagged aws_appautoscaling_target (the stack's auto scaling option). Tags are kept per
    ARN, those RegisterScalableTarget carries included, as the API reference describes the
    three calls (a map of keys to values)."""
    global _appautoscaling_patched
    with _appautoscaling_patch_lock:
        if _appautoscaling_patched:
            return
        from moto.applicationautoscaling import responses as aas

        tags = _appautoscaling_tags_by_arn
        register = aas.ApplicationAutoScalingResponse.register_scalable_target

        def register_scalable_target(self: Any) -> Any:
            body = register(self)
            text = body if isinstance(body, str) else (body[-1] if body else "")
            arn = json.loads(text or "{}").get("ScalableTargetARN")
            if arn:
                tags.setdefault(arn, {}).update(self._get_param("Tags") or {})
            return body

        def list_tags_for_resource(self: Any) -> str:
            return json.dumps({"Tags": tags.get(self._get_param("ResourceARN"), {})})

        def tag_resource(self: Any) -> str:
            tags.setdefault(self._get_param("ResourceARN"), {}).update(
                self._get_param("Tags") or {}
            )
            return "{}"

        def untag_resource(self: Any) -> str:
            held = tags.get(self._get_param("ResourceARN"), {})
            for key in self._get_param("TagKeys") or []:
                held.pop(key, None)
            return "{}"

        cls = aas.ApplicationAutoScalingResponse
        cls.register_scalable_target = register_scalable_target  # type: ignore[method-assign]
        cls.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]
        cls.tag_resource = tag_resource  # type: ignore[attr-defined]
        cls.untag_resource = untag_resource  # type: ignore[attr-defined]
        _appautoscaling_patched = True


_streams_patch_lock = threading.Lock()
_streams_patched = False


def _stream_errors_as_on_aws() -> None:
    """``GetShardIterator``: AWS's errors for an unknown shard and for trimmed records.

    AWS documents ``TrimmedDataAccessException`` for "a shard iterator with a sequence number
    older than the trim point (24 hours)". moto never trims, so a sequence number before the
    shard's first record is the only such case here (``ddbstream dlq replay`` of a batch whose
    records are gone); moto asserts instead and answers HTTP 500."""
    global _streams_patched
    with _streams_patch_lock:
        if _streams_patched:
            return
        from moto.core.exceptions import JsonRESTError
        from moto.dynamodbstreams import models as streams_models

        original = streams_models.DynamoDBStreamsBackend.get_shard_iterator

        def get_shard_iterator(
            self: Any,
            arn: str,
            shard_id: str,
            shard_iterator_type: str,
            sequence_number: Any = None,
        ) -> Any:
            try:
                table = self._get_table_from_arn(arn)
            except Exception:
                table = None
            shard = getattr(table, "stream_shard", None)
            if shard is None or shard.id != shard_id:
                raise JsonRESTError(
                    "ResourceNotFoundException", f"Requested resource not found: Shard: {shard_id}"
                )
            if (
                shard_iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
                and sequence_number is not None
                and int(sequence_number) < shard.starting_sequence_number
            ):
                raise JsonRESTError(
                    "TrimmedDataAccessException",
                    "The data you are trying to access has been trimmed.",
                )
            return original(self, arn, shard_id, shard_iterator_type, sequence_number)

        streams_models.DynamoDBStreamsBackend.get_shard_iterator = get_shard_iterator  # type: ignore[method-assign]
        _streams_patched = True


_logging_patch_lock = threading.Lock()
_logging_patched = False


def _keep_lambda_logging_config() -> None:
    """CreateFunction / UpdateFunctionConfiguration keep ``LoggingConfig`` and GetFunction*
    returns it, with Lambda's defaults (``Text``, ``/aws/lambda/NAME``) when none was given."""
    global _logging_patched
    with _logging_patch_lock:
        if _logging_patched:
            return
        from moto.awslambda.models import LambdaFunction

        init, get, update = (
            LambdaFunction.__init__,
            LambdaFunction.get_configuration,
            LambdaFunction.update_configuration,
        )

        def __init__(self: Any, account_id: str, spec: dict[str, Any], *a: Any, **kw: Any) -> None:
            init(self, account_id, spec, *a, **kw)
            self.ddbstream_logging_config = dict(spec.get("LoggingConfig") or {})

        def get_configuration(self: Any, *a: Any, **kw: Any) -> dict[str, Any]:
            config: dict[str, Any] = get(self, *a, **kw)
            given = getattr(self, "ddbstream_logging_config", None) or {}  # older pickles: none
            config["LoggingConfig"] = {
                "LogFormat": "Text",
                "LogGroup": f"/aws/lambda/{self.function_name}",
                **given,
            }
            return config

        def update_configuration(self: Any, updates: dict[str, Any]) -> dict[str, Any]:
            if isinstance(updates.get("LoggingConfig"), dict):
                current = getattr(self, "ddbstream_logging_config", None) or {}
                self.ddbstream_logging_config = {**current, **updates["LoggingConfig"]}
            result: dict[str, Any] = update(self, updates)
            return result

        LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
        LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
        LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]
        _logging_patched = True


_esm_patch_lock = threading.Lock()
_esm_patched = False


def _validate_event_source_mappings() -> None:
    """Refuse the event source mappings Lambda refuses, before moto stores them."""
    global _esm_patched
    with _esm_patch_lock:
        if _esm_patched:
            return
        from moto.awslambda import models as lambda_models
        from moto.awslambda.exceptions import LambdaClientError

        from ddbstream.local.runtime.validation import MappingRequestError, check_mapping_request

        backend = lambda_models.LambdaBackend
        create, update = backend.create_event_source_mapping, backend.update_event_source_mapping

        def checked(request: dict[str, Any], source_arn: str | None, is_create: bool) -> None:
            try:
                check_mapping_request(request, source_arn=source_arn, create=is_create)
            except MappingRequestError as e:
                raise LambdaClientError(e.error_type, e.message) from e

        def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
            checked(spec, spec.get("EventSourceArn"), True)
            esm = create(self, spec)
            _keep_alias(esm, spec.get("FunctionName"))
            return esm

        def update_event_source_mapping(self: Any, uuid: str, spec: dict[str, Any]) -> Any:
            esm = self.get_event_source_mapping(uuid)
            if esm is not None:
                checked(spec, getattr(esm, "event_source_arn", None), False)
            out = update(self, uuid, spec)
            if out is not None and spec.get("FunctionName"):
                _keep_alias(out, spec["FunctionName"])
            return out

        backend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]
        backend.update_event_source_mapping = update_event_source_mapping  # type: ignore[method-assign]

        # LastProcessingResult: moto answers null; Lambda "No records processed" until the
        # first invocation, then the runtime's result of the last one (runtime/aws.py)
        esm_class = lambda_models.EventSourceMapping
        configuration = esm_class.get_configuration

        def get_configuration(self: Any) -> dict[str, Any]:
            out = dict(configuration(self))
            out["LastProcessingResult"] = getattr(
                self, "last_processing_result", NO_RECORDS_PROCESSED
            )
            return out

        esm_class.get_configuration = get_configuration  # type: ignore[method-assign]
        _esm_patched = True


def _keep_alias(esm: Any, function_name: object) -> None:
    """A mapping on an alias keeps the alias's ARN as its FunctionArn, as in Lambda (and so
    follows the alias when it is pointed at another version); moto stores the version's."""
    if not isinstance(function_name, str):
        return
    parts = function_name.split(":")
    # name:q, account:function:name:q, arn:aws:lambda:region:account:function:name:q
    qualifier = {2: 1, 4: 3, 8: 7}.get(len(parts))
    if qualifier is None:
        return
    alias = parts[qualifier]
    if not alias or alias.isdigit() or alias == "$LATEST":
        return
    resolved = str(getattr(esm, "function_arn", ""))
    base = ":".join(resolved.split(":")[:7])  # arn:aws:lambda:region:account:function:name
    if base.count(":") == 6:
        esm.function_arn = f"{base}:{alias}"


#: LastProcessingResult of a mapping that has not invoked its function yet (Lambda's text).
NO_RECORDS_PROCESSED = "No records processed"


_policy_patch_lock = threading.Lock()
_policy_patched = False


def _fix_policy_conditions() -> None:
    """Evaluate ``aws:SecureTransport`` in policies as true: the emulator stands in for AWS's
    TLS endpoints.

    moto 5 skips condition operators it does not implement (``Bool`` among them) as if they
    held, so the stack's TLS-only bucket policy (Deny ``s3:*`` when ``aws:SecureTransport`` is
    false) denies every object request to the emulator, while on AWS it only bites plain-HTTP
    requests. Here a statement conditioned on ``aws:SecureTransport`` being false does not
    apply; every other condition is left to moto.
    """
    global _policy_patched
    with _policy_patch_lock:
        if _policy_patched:
            return
        from moto.iam import access_control as ac

        original = ac.IAMPolicyStatement.is_action_permitted

        def is_action_permitted(
            self: Any,
            action: str,
            resource: str = "*",
            principal: str | None = None,
            incoming_condition_values: dict[str, str] | None = None,
        ) -> Any:
            if _requires_insecure_transport(self._statement.get("Condition")):
                return ac.PermissionResult.NEUTRAL
            return original(self, action, resource, principal, incoming_condition_values)

        ac.IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]
        _policy_patched = True


def _requires_insecure_transport(condition: Any) -> bool:
    """True for a policy Condition that holds only for plain-HTTP requests."""
    if not isinstance(condition, dict):
        return False
    for op in ("Bool", "BoolIfExists"):
        block = condition.get(op)
        if not isinstance(block, dict):
            continue
        for key, expected in block.items():
            if key.lower() != "aws:securetransport":
                continue
            values = expected if isinstance(expected, list) else [expected]
            if all(str(v).lower() == "false" for v in values):
                return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class NotLoopbackError(UserError):
    """The emulator would be reachable from other machines (or a verb would send the local
    stack's dummy credentials to one) without being told to."""


def is_loopback(host: str | None) -> bool:
    """True for a loopback address or ``localhost``."""
    if not host:
        return False
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: Set to 1 to let the local stack's tools talk to (or serve on) a non-loopback address.
ALLOW_NON_LOOPBACK_ENV = "DDBSTREAM_ALLOW_NON_LOOPBACK"


def non_loopback_allowed() -> bool:
    return os.environ.get(ALLOW_NON_LOOPBACK_ENV, "") in ("1", "true", "yes")


def require_loopback(endpoint: str, what: str) -> None:
    """Refuse ``what`` (running Terraform, a verb) against ``endpoint`` unless it is on a
    loopback address, or DDBSTREAM_ALLOW_NON_LOOPBACK=1 says otherwise: the local stack's dummy
    credentials and its Terraform override are meant for the emulator on this machine only."""
    from urllib.parse import urlsplit

    host = urlsplit(endpoint).hostname
    if is_loopback(host) or non_loopback_allowed():
        return
    raise NotLoopbackError(
        f"refusing to {what} against {endpoint}: not a loopback address (the local stack only "
        f"runs on this machine; set {ALLOW_NON_LOOPBACK_ENV}=1 to allow it)"
    )


@dataclass
class Emulator:
    """A running moto server. ``endpoint`` is what AWS_ENDPOINT_URL should be set to.

    ``app`` is the WSGI application it serves: moto's, behind the write-ahead journal
    (:class:`ddbstream.local.journal.DurableApp`; journaling is off until started on it)."""

    host: str
    port: int
    app: DurableApp
    _server: Any
    _thread: threading.Thread

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving: the requests in progress finish, any later one (a new connection or a
        kept-alive one) is refused; once this returns nothing more reaches moto, so a snapshot
        taken now holds every write that was acknowledged (and, once the SNS deliveries
        accepted before have been made, which this waits for, their deliveries)."""
        self.app.close()
        deliveries.settle()
        self._server.shutdown()
        self._thread.join()  # serve_forever ends by closing the listening socket


def moto_app() -> Any:
    """moto's WSGI application (every service, dispatched by host and signature)."""
    patch_moto()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def _keep_alive_handler(base: type) -> type:
    """A request handler on ``base`` (moto's, itself werkzeug's) that keeps connections open.

    werkzeug's server answers every request with ``Connection: close`` and then waits up to
    10 ms for request bytes to throw away, so each request of a client costs a TCP connect and
    a new server thread. This handler reads the body exactly (``Content-Length``, or chunked to
    its end), buffers the application's answer, sends it with a ``Content-Length`` and serves
    the next request of the same connection (HTTP/1.1; a client's ``Connection: close``, an
    HTTP/1.0 request, an answer carrying ``Connection: close`` or an error close it).
    """
    from werkzeug.serving import DechunkedInput
    from werkzeug.wsgi import LimitedStream

    class KeepAliveHandler(base):  # type: ignore[misc,valid-type]
        protocol_version = "HTTP/1.1"
        #: an idle kept-alive connection is closed after this long (its thread ends)
        timeout = 120

        def setup(self) -> None:
            super().setup()
            # without this, Nagle's algorithm holds a write (a 100 Continue, an answer larger
            # than a packet) until the client's delayed ACK (~40 ms per request)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def run_wsgi(self) -> None:
            if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            environ = self.environ = self.make_environ()
            body_in: Any = environ["wsgi.input"]
            if not isinstance(body_in, DechunkedInput):
                try:
                    length = int(environ.get("CONTENT_LENGTH") or 0)
                except ValueError:
                    length = -1
                if length < 0:
                    self.close_connection = True
                    length = 0
                body_in = LimitedStream(self.rfile, length)
                environ["wsgi.input"] = body_in
            answer: dict[str, Any] = {}

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):  # type: ignore[no-untyped-def]
                answer["status"], answer["headers"] = status, headers
                return lambda data: answer.setdefault("written", []).append(data)

            try:
                result = self.server.app(environ, start_response)
                try:
                    chunks = answer.pop("written", []) + [bytes(c) for c in result]
                finally:
                    if hasattr(result, "close"):
                        result.close()
                # whatever the application left unread is thrown away, and only that
                while body_in.read(65536):
                    pass
            except Exception:
                self.close_connection = True
                logging.getLogger("ddbstream.local.emulator").exception(
                    "request %s %s failed", self.command, self.path
                )
                answer = {"status": "500 Internal Server Error", "headers": []}
                chunks = [b"internal error"]
            body = b"".join(chunks)
            code, _, reason = str(answer["status"]).partition(" ")
            self.send_response(int(code), reason)
            names = set()
            for name, value in answer["headers"]:
                lower = name.lower()
                if lower == "connection":
                    if value.strip().lower() == "close":
                        self.close_connection = True
                    continue
                if lower == "transfer-encoding":
                    continue  # sent whole, with its length
                names.add(lower)
                self.send_header(name, value)
            if "content-length" not in names and int(code) not in (204, 304) and int(code) >= 200:
                self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            # the header and the body in one write (one send, one packet for a small answer)
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD" and body:
                self._headers_buffer.append(body)
            self.flush_headers()
            self.wfile.flush()

    return KeepAliveHandler


def start(
    host: str = "127.0.0.1", port: int | None = None, allow_non_loopback: bool = False
) -> Emulator:
    """Start moto's server in a daemon thread of this process and return once it listens.

    Only on a loopback address unless ``allow_non_loopback``: the emulator has no
    authentication and holds everything in the clear."""
    if not (allow_non_loopback or non_loopback_allowed()) and not is_loopback(host):
        raise NotLoopbackError(
            f"refusing to serve the emulator on {host}: not a loopback address, and the "
            f"emulator has no authentication (set {ALLOW_NON_LOOPBACK_ENV}=1 to allow it)"
        )
    os.environ.setdefault("MOTO_DOCKER_NETWORK_MODE", "none")
    patch_moto()
    werkzeug_log = logging.getLogger("werkzeug")
    if werkzeug_log.level == logging.NOTSET:  # not a line per request, unless asked for
        werkzeug_log.setLevel(logging.WARNING)
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    chosen = port if port is not None else free_port(host)
    app = DurableApp(moto_app(), settle=deliveries.settle)
    handler = _keep_alive_handler(MotoRequestHandler)
    server = make_server(host, chosen, app, threaded=True, request_handler=handler)
    # Closing the server must not wait for idle kept-alive connections (the app refuses their
    # next request anyway, see stop()).
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
    thread.start()
    return Emulator(host=host, port=chosen, app=app, _server=server, _thread=thread)


@contextlib.contextmanager
def running(host: str = "127.0.0.1") -> Iterator[Emulator]:
    emu = start(host)
    try:
        yield emu
    finally:
        emu.stop()
