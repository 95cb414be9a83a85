"""boto3 clients with the processor's retry and timeout policy.

Retries use botocore's ``standard`` mode (exponential backoff with jitter, throttling and
transient errors retried, a retry quota) with 3 attempts; connect and read timeouts are short
enough that a stuck call cannot eat the invocation. The endpoint comes from boto3's own
configuration, so ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3`` ...) points the clients at
the local stack.

For clients of the ``query`` protocol (SNS) the form body is encoded once, by
:func:`form_encode`, before the request is signed: botocore would otherwise urlencode the same
parameters twice (once to sign, once to send): about half of a PublishBatch call's CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 10
MAX_ATTEMPTS = 3

CONFIG = Config(
    retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    tcp_keepalive=True,
    max_pool_connections=10,
    # The adapters build every request from typed values; botocore's client-side check of them
    # against the service model was a third of a PublishBatch call's CPU. A malformed request
    # still fails: the service answers 400 and the adapter's call raises, as it would have.
    parameter_validation=False,
)


_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
# code point (a UTF-8 byte, via latin-1) -> its form encoding, for str.translate
_QUOTED = ["+" if b == 0x20 else chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in range(256)]


def _quote(text: str) -> str:
    return text.encode("utf-8").decode("latin-1").translate(_QUOTED)


# Names and short values repeat from call to call (PublishBatchRequestEntries.member.N...,
# "String", attribute names, event names): each is quoted once.
_SEEN: dict[str, str] = {}


def form_encode(data: Mapping[str, str]) -> bytes:
    """``application/x-www-form-urlencoded``, byte for byte what ``urllib.parse.urlencode``
    (``quote_plus``) writes, in a fraction of its time (``str.translate`` instead of a
    Python-level loop over the bytes; names and short values quoted once)."""
    seen = _SEEN
    parts = []
    for k, v in data.items():
        name = seen.get(k)
        if name is None:
            name = _quote(k)
            if len(seen) < 10_000:
                seen[k] = name
        if len(v) > 64:
            value = _quote(v)
        else:
            value = seen.get(v)  # type: ignore[assignment]
            if value is None:
                value = _quote(v)
                if len(seen) < 10_000:
                    seen[v] = value
        parts.append(f"{name}={value}")
    return "&".join(parts).encode("ascii")


def _encode_form_once(request: Any, **_: Any) -> None:
    data = request.data
    if isinstance(data, dict):
        # a value that is not a string: leave the body to botocore
        with contextlib.suppress(AttributeError, TypeError):
            request.data = form_encode(data)


def client(service: str, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` with :data:`CONFIG` (kwargs pass through to boto3)."""
    c = boto3.session.Session().client(service, config=CONFIG, **kwargs)  # type: ignore[call-overload]
    prepare_client(c)
    return c


def prepare_client(c: Any) -> None:
    """The processor's tweaks to a boto3 client (for a client built elsewhere, e.g. the bench):
    a ``query``-protocol body is form-encoded once, before signing."""
    model = c.meta.service_model
    if model.protocol == "query":
        c.meta.events.register(f"before-sign.{model.service_id.hyphenize()}", _encode_form_once)
