"""SNS in the emulator: deliveries made after Publish answered, and envelopes signed cheaply.

:data:`deliveries` makes each subscription's delivery from a background thread, in the order
accepted (:func:`_deliver_sns_after_publish`); moto's record of what a topic sent is not kept
(:func:`_forget_sent_notifications`); an envelope is signed with one certificate per
subscription, made once (:func:`_sns_signing_certificate_once`). The patches are applied by
:func:`ddbstream.local.emulator.patch_moto`; why, in the package's docstring.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from ddbstream.local.fifo import SerialWorker

from .once import once
from .replay import derived_request, reproducible


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
    :func:`.replay.receipts`): such a message is not delivered again.
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


@once
def _deliver_sns_after_publish() -> None:
    """moto's ``Subscription.publish`` (one delivery) goes to :data:`deliveries`. What can fail
    the Publish call itself (a message structure that is not valid JSON) is still checked in the
    call."""
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(self: Any, message: str, message_id: str, *args: Any, **kw: Any) -> None:
        if kw.get("message_structure") == "json":
            self._parse_message_structure(message, self.protocol)  # raises as before
        deliveries.submit(original, self, message, message_id, *args, **kw)

    Subscription.publish = publish  # type: ignore[method-assign]


@once
def _forget_sent_notifications() -> None:
    """moto keeps every message ever published to a topic (``Topic.sent_notifications``, for
    tests that look inside moto; nothing here reads it, and SNS keeps nothing): at 100
    notifications a second that grew the process by about 250 MB an hour, and every snapshot
    copied it while the stack waited (10.6 MB of a 30 MB snapshot after one bench run). The
    record is emptied after each publish (a topic restored from an older snapshot too)."""
    from moto.sns.models import Topic

    original = Topic.publish

    def publish(self: Any, *args: Any, **kw: Any) -> str:
        try:
            return original(self, *args, **kw)  # type: ignore[no-any-return]
        finally:
            self.sent_notifications.clear()

    Topic.publish = publish  # type: ignore[method-assign]


@once
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
