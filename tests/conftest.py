"""Shared fixtures: one moto server per test session, started in process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from ddbstream.local import emulator


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Endpoint of an in-process moto server; AWS env vars point at it for the whole session."""
    emu = emulator.start()
    saved = {k: os.environ.get(k) for k in emulator.client_env(emu.endpoint)}
    os.environ.update(emulator.client_env(emu.endpoint))
    try:
        yield emu.endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        emu.stop()


@pytest.fixture
def aws_client(moto_endpoint: str):  # type: ignore[no-untyped-def]
    """Factory for boto3 clients bound to the session's moto server."""

    def make(service: str):  # type: ignore[no-untyped-def]
        return boto3.client(
            service,
            endpoint_url=moto_endpoint,
            region_name=emulator.REGION,
            aws_access_key_id=emulator.ACCESS_KEY,
            aws_secret_access_key=emulator.SECRET_KEY,
        )

    return make
