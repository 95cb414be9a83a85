"""Errors a ``ddbstream`` command reports to its user as one line (see :mod:`ddbstream.cli`)."""

from __future__ import annotations


class UserError(Exception):
    """A known failure of a command: bad input, a missing stack, a refused operation.

    The message is one line naming the bad value or the missing thing (and, where it helps,
    what to do); the command line prints it as ``ddbstream: <message>`` and exits with
    ``exit_code``. Raise it (or a subclass) from any verb's logic instead of printing.
    """

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
