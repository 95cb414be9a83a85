"""boto3 clients with the processor's retry and timeout policy.

Retries use botocore's ``standard`` mode (exponential backoff with jitter, throttling and
transient errors retried, a retry quota) with 3 attempts; connect and read timeouts are short
enough that a stuck call cannot eat the invocation. The endpoint comes from boto3's own
configuration, so ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3`` ...) points the clients at
the local stack.
"""

from __future__ import annotations

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
)


def client(service: str, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` with :data:`CONFIG` (kwargs pass through to boto3)."""
    return boto3.session.Session().client(service, config=CONFIG, **kwargs)  # type: ignore[call-overload]
