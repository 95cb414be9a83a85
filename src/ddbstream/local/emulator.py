"""The embedded AWS emulator: moto's server, in process, on a loopback port.

moto's own DynamoDB-stream-to-Lambda path is switched off here. Left on, it tries to run the
function in Docker on every write to a mapped table and, once an invocation "succeeds", drops
the stream's records (and restarts its sequence numbers). The local runtime
(:mod:`ddbstream.local.runtime`) reads the stream itself, with AWS's semantics.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"

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


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Emulator:
    """A running moto server. ``endpoint`` is what AWS_ENDPOINT_URL should be set to."""

    host: str
    port: int
    _server: object

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.stop()  # type: ignore[attr-defined]


def start(host: str = "127.0.0.1", port: int | None = None) -> Emulator:
    """Start moto's server in a daemon thread of this process and return once it listens."""
    os.environ.setdefault("MOTO_DOCKER_NETWORK_MODE", "none")
    _disable_moto_lambda_side_effects()
    from moto.server import ThreadedMotoServer

    chosen = port if port is not None else _free_port(host)
    server = ThreadedMotoServer(ip_address=host, port=chosen, verbose=False)
    server.start()
    return Emulator(host=host, port=chosen, _server=server)


def client_env(endpoint: str, region: str = REGION) -> dict[str, str]:
    """Environment variables that point the AWS CLI and boto3 at ``endpoint``."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }


@contextlib.contextmanager
def running(host: str = "127.0.0.1") -> Iterator[Emulator]:
    emu = start(host)
    try:
        yield emu
    finally:
        emu.stop()
