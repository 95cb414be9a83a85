"""The ``ddbstream`` command line: the parser and the one place errors become messages.

Each verb group is a module of this package with a ``register(sub)`` function that adds its
sub-commands to the parser (``sub`` is argparse's sub-parsers object) and names, for each, the
function that runs it: ``p.set_defaults(run="package.module:function")``, imported only when
that verb runs, so ``--help`` stays fast and the Lambda package never imports the local stack.
The function takes the parsed ``argparse.Namespace`` and returns an exit code.

A verb reports a known failure by raising :class:`ddbstream.errors.UserError`; :func:`main`
prints it as ``ddbstream: <message>`` on stderr and exits with its ``exit_code``. botocore's
connection and credential errors (no endpoint answering, no credentials, no region) and AWS's
error answers (``ClientError``: access denied, a resource that does not exist) are
reported the same way. Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

#: The verb groups, in the order ``--help`` lists them (modules of this package).
GROUPS: tuple[str, ...] = ("stack", "dlq", "quarantine", "monitoring", "audit")

Run = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse's parser with a one-line error: ``ddbstream up: argument --port: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def port(text: str) -> int:
    """An argparse type: a TCP port, 0-65535 (0: any free one)."""
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0-65535; 0 picks a free one)")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer, 0 or more."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative (0 or more)")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer, 1 or more."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not 1 or more")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds (or the like), more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not more than 0")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    """``--state-dir DIR``: which local stack (the state directory of ``ddbstream up``)."""
    parser.add_argument(
        "--state-dir",
        default=None,
        help="local stack's state directory (default: $DDBSTREAM_STATE_DIR, else .ddbstream/ "
        "in the project)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ddbstream",
        description=(
            "Real-time processing of DynamoDB change streams. The Lambda entry point is "
            "ddbstream.handler.lambda_handler; this command builds its package, runs the "
            "whole stack locally (no AWS account, no Docker) and operates a deployment."
        ),
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True, parser_class=Parser)
    for group in GROUPS:
        importlib.import_module(f"{__name__}.{group}").register(sub)
    return parser


def resolve(run: str | Run) -> Run:
    """The function a verb names: a callable, or ``"module:function"`` imported now."""
    if callable(run):
        return run
    module, func = run.split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


#: botocore errors that mean "cannot reach or authenticate to AWS / the emulator": reported as
#: one line, not a traceback. (Class names, so botocore is imported only when one is raised.)
_BOTOCORE_USER_ERRORS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "NoCredentialsError",
        "PartialCredentialsError",
        "NoRegionError",
        "ProfileNotFound",
        "TokenRetrievalError",
        "SSOTokenLoadError",
        "UnauthorizedSSOTokenError",
        "InvalidEndpointConfigurationError",
    }
)


def _botocore_message(exc: BaseException) -> str | None:
    """The one-line report of a botocore connection/credential error or of an AWS error answer
    (``ClientError``: ``Operation: Code: Message``), else None."""
    if not type(exc).__module__.startswith("botocore"):
        return None
    names = {cls.__name__ for cls in type(exc).__mro__}
    response = getattr(exc, "response", None)
    if "ClientError" in names and isinstance(response, dict):
        # AWS answered (access denied, no such queue, a throttle past the retries): known to
        # the user, not a bug of the verb
        err = response.get("Error") or {}
        op = getattr(exc, "operation_name", "") or "AWS"
        return f"{op}: {err.get('Code') or 'error'}: {err.get('Message') or exc}"
    if not names & _BOTOCORE_USER_ERRORS:
        return None
    return " ".join(str(exc).split())


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def report(exc: BaseException) -> int | None:
    """Print ``exc`` as ``ddbstream: <one line>`` and return the exit code, when it is a known
    failure (a UserError, a botocore connection/credential error or AWS error answer, an
    OSError naming its file);
    None otherwise."""
    from ddbstream.errors import UserError

    if isinstance(exc, UserError):
        message: str | None = str(exc)
        code = exc.exit_code
    elif isinstance(exc, OSError) and exc.filename is not None:
        # A file or directory the verb needed (a state directory that is a file, read-only...).
        message, code = f"{exc.filename}: {exc.strerror or exc}", 1
    else:
        message, code = _botocore_message(exc), 1
    if message is None:
        return None
    print(f"ddbstream: {_one_line(message)}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Any = getattr(args, "run", None)
    try:
        return resolve(run)(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ddbstream output | head`: the reader went away
        return 0
    except Exception as exc:
        code = report(exc)
        if code is None:
            raise
        return code
