"""The emulator's port: the one asked for, else the last run's, else 4566, else any free one."""

from __future__ import annotations

import socket

from ddbstream.local import emulator

from .state import DEFAULT_PORT, StackError


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(requested: int | None, previous: int | None) -> int:
    """``requested`` (0: any free port) or, by default, the port of the previous run (its URLs
    are in the restored state), else 4566, else any free port."""
    if requested is not None:
        if requested == 0:
            return emulator.free_port()
        if not port_free(requested):
            raise StackError(f"port {requested} is in use: choose another with --port")
        return requested
    for candidate in (previous, DEFAULT_PORT):
        if candidate and port_free(candidate):
            return candidate
    return emulator.free_port()
