"""Reproducible requests: what moto draws while applying a journaled request, seeded by it.

While moto applies a journaled request (:func:`reproducible`), every id it draws (moto's
``mock_random``, ``os.urandom``, hence ``uuid.uuid4``) comes from a generator seeded for that
request alone, and its clock (``moto.core.utils.utcnow``) reads the request's time, so a crash
recovery's replay of the journal (:mod:`ddbstream.local.journal`) recreates every resource with
the id, ARN and timestamps it had. An SQS ReceiveMessage reports the receipt handles it gave out
(:func:`receipts`), which the journal keeps and a replay gives back (:func:`apply_receipts`).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import random
import string
import threading
import types
from collections.abc import Iterator
from typing import Any

from .once import once

#: What moto draws while it applies one journaled request in this thread (see reproducible()):
#: ``rng`` (every id), ``now`` (its clock), ``receipts`` (SQS receipt handles given out).
_request = threading.local()


def _now_hook() -> datetime.datetime:
    """The body :func:`moto.core.utils.utcnow` runs once patched (in that module's globals)."""
    return _ddbstream_utcnow()  # type: ignore[name-defined, no-any-return]  # noqa: F821


@once
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
    from moto.sqs import utils as sqs_utils

    # An SQS receipt handle is 185 lowercase letters (moto's form). moto drew each with
    # ``choice``, which goes through the Python-level draws above once or more per letter: a
    # tenth of the emulator's time with the inbox receiving. One float is drawn per
    # letter, from the request's generator when there is one (the same handle for the same
    # seed), else from moto's own state: the same form, the same uniform letters.
    letters = string.ascii_lowercase
    moto_draw = random.Random.random.__get__(mock_random)  # its own state, past the override

    def generate_receipt_handle() -> str:
        rng = getattr(_request, "rng", None)
        draw = rng.random if rng is not None else moto_draw
        return "".join([letters[int(draw() * 26)] for _ in range(185)])  # what choices does

    sqs_utils.generate_receipt_handle = generate_receipt_handle
    sqs_models.generate_receipt_handle = generate_receipt_handle  # type: ignore[attr-defined]

    receive = sqs_models.SQSBackend.receive_message

    def receive_message(self: Any, queue_name: str, *a: Any, **k: Any) -> Any:
        result = receive(self, queue_name, *a, **k)
        seen = getattr(_request, "receipts", None)
        if seen is not None:
            # the originals of the copies moto returned: the oldest visible ones, near the
            # front, so the walk stops there (a dict of the whole queue cost a walk of it all)
            wanted = {copy.id for copy in result}
            by_id: dict[str, Any] = {}
            if wanted:
                for m in self.get_queue(queue_name)._messages:
                    if m.id in wanted:
                        by_id[m.id] = m
                        if len(by_id) == len(wanted):
                            break
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
