"""Shared fixtures: one moto server per test session, started in process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ddbstream.local import clients, emulator


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Endpoint of an in-process moto server; AWS env vars point at it for the whole session."""
    emu = emulator.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in clients.env(emu.endpoint).items():
                mp.setenv(name, value)
            yield emu.endpoint
    finally:
        emu.stop()


@pytest.fixture
def aws_client(moto_endpoint: str):  # type: ignore[no-untyped-def]
    """Factory for boto3 clients bound to the session's moto server."""

    return clients.Clients(moto_endpoint)
