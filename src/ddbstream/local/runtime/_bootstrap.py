"""The warm worker: runs inside a subprocess, imports the handler, serves invocations.

Started by :mod:`ddbstream.local.runtime.worker` as ``python -u _bootstrap.py`` with the
function's environment. Requests arrive as JSON lines on stdin; everything the worker says goes
as JSON lines to the file descriptor named by ``_DDBSTREAM_MSG_FD``:

- ``{"t": "log", "line": ...}``: a line the handler printed or logged (stdout, stderr, logging);
- ``{"t": "ready", "ok": true, "init_ms": ...}`` or ``{"t": "ready", "ok": false, "error": ...}``;
- ``{"t": "result", "id": ..., "ok": true, "payload": ...}`` or ``... "ok": false, "error": ...}``.

Only the standard library is used here, and nothing from ``ddbstream``: the function's own
package (unzipped into ``LAMBDA_TASK_ROOT``) comes first on ``sys.path``.
"""

import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback

_lock = threading.Lock()
_out = None
_request_id = {"id": None}


def _send(obj):
    line = json.dumps(obj, default=str)
    with _lock:
        _out.write(line + "\n")
        _out.flush()


class _LogStream(io.TextIOBase):
    """sys.stdout / sys.stderr: every complete line becomes a log message, in order."""

    def __init__(self):
        super().__init__()
        self._buf = ""
        self._buf_lock = threading.Lock()

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            s = str(s)
        with self._buf_lock:
            self._buf += s
            *lines, self._buf = self._buf.split("\n")
        for line in lines:
            _send({"t": "log", "line": line})
        return len(s)

    def flush(self):
        with self._buf_lock:
            rest, self._buf = self._buf, ""
        if rest:
            _send({"t": "log", "line": rest})


class _LambdaLogHandler(logging.Handler):
    """Formats records like Lambda's Python runtime: ``[LEVEL]\\ttime\\trequest id\\tmessage``."""

    def emit(self, record):
        try:
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            ms = int(record.msecs)
            msg = record.getMessage()
            if record.exc_info:
                msg += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            line = f"[{record.levelname}]\t{ts}.{ms:03d}Z\t{_request_id['id'] or ''}\t{msg}"
            _send({"t": "log", "line": line})
        except Exception:
            self.handleError(record)


class _Identity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self):
        self.cognito_identity_id = None
        self.cognito_identity_pool_id = None


class Context:
    """The Lambda context object, as the Python runtime provides it."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn=None):
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        # the ARN the function was invoked by: an alias's or a version's for a mapping on one
        self.invoked_function_arn = invoked_function_arn or env.get("_DDBSTREAM_FUNCTION_ARN", "")
        # a string, as in Lambda's own runtime interface client (read from the environment)
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = _Identity()
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _trace_header():
    """A fresh X-Ray trace header, as Lambda passes one to every invocation
    (``Root=1-{epoch seconds, 8 hex}-{24 hex};Parent={16 hex};Sampled=0``: not sampled, since
    nothing here records traces)."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled=0"


def _error(exc, error_type=None):
    tb = traceback.extract_tb(exc.__traceback__)
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": _request_id["id"] or "",
        "stackTrace": [line for line in traceback.format_list(tb)],
    }


def _log_error(err):
    lines = [f"[ERROR] {err['errorType']}: {err['errorMessage']}"]
    if err.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(s.rstrip("\n") for s in err["stackTrace"])
    _send({"t": "log", "line": "\n".join(lines)})


def _load_handler(spec):
    module_name, _, func_name = spec.rpartition(".")
    if not module_name or not func_name:
        message = f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)"
        raise _InitError.of("Runtime.MalformedHandlerName", message)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:
        err = _error(exc, "Runtime.ImportModuleError")
        err["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
        raise _InitError(err) from exc
    fn = getattr(module, func_name, None)
    if fn is None:
        message = f"Handler '{func_name}' missing on module '{module_name}'"
        raise _InitError.of("Runtime.HandlerNotFound", message)
    return fn


class _InitError(Exception):
    def __init__(self, err):
        super().__init__(err["errorMessage"])
        self.err = err

    @classmethod
    def of(cls, error_type, message):
        return cls(
            {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
        )


def main():
    global _out
    msg_fd = int(os.environ.pop("_DDBSTREAM_MSG_FD"))
    _out = os.fdopen(msg_fd, "w", encoding="utf-8", buffering=1)
    stdin = sys.stdin  # the request channel, kept from the handler
    sys.stdin = open(os.devnull)  # noqa: SIM115
    sys.stdout = _LogStream()
    sys.stderr = _LogStream()

    here = os.path.dirname(os.path.abspath(__file__))
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path[:] = [task_root] + [p for p in sys.path if p and os.path.abspath(p) != here]
    os.chdir(task_root)

    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(_LambdaLogHandler())
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "WARNING").upper())

    t0 = time.monotonic()
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except _InitError as e:
        _log_error(e.err)
        _send({"t": "ready", "ok": False, "error": e.err})
        return
    except Exception as e:
        err = _error(e, "Runtime.HandlerNotFound")
        _log_error(err)
        _send({"t": "ready", "ok": False, "error": err})
        return
    _send({"t": "ready", "ok": True, "init_ms": (time.monotonic() - t0) * 1000})

    for line in stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        _request_id["id"] = req["id"]
        # as Lambda's Python runtime does: the invocation's trace header in the environment
        os.environ["_X_AMZN_TRACE_ID"] = _trace_header()
        ctx = Context(req["id"], req["deadline_ms"], req.get("invoked_function_arn"))
        try:
            result = handler(req["event"], ctx)
            try:
                payload = json.loads(json.dumps(result))
            except (TypeError, ValueError) as exc:
                raise _MarshalError(f"Unable to marshal response: {exc}") from exc
            sys.stdout.flush()
            sys.stderr.flush()
            _send({"t": "result", "id": req["id"], "ok": True, "payload": payload})
        except Exception as exc:
            err = _error(exc, "Runtime.MarshalError" if isinstance(exc, _MarshalError) else None)
            sys.stdout.flush()
            sys.stderr.flush()
            _log_error(err)
            _send({"t": "result", "id": req["id"], "ok": False, "error": err})
        finally:
            _request_id["id"] = None


class _MarshalError(Exception):
    pass


if __name__ == "__main__":
    main()
