"""The emulator's server: moto's WSGI application, behind the journal, on a loopback port.

werkzeug's threaded server, with a request handler that keeps HTTP/1.1 connections open (see
:func:`_keep_alive_handler`), around moto's WSGI application behind the write-ahead journal
(:mod:`ddbstream.local.journal`), on a loopback address only unless told
(:func:`require_loopback` is the same rule for the tools that talk to it).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ddbstream.errors import UserError
from ddbstream.local.journal import DurableApp

from .patches import patch_moto
from .sns import deliveries


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
