"""The JSON logger's own rules: Powertools' key order, location, trace id, unknown keys left out."""

from __future__ import annotations

import io
import json

from ddbstream import log


def test_trace_id_is_the_root_of_the_trace_header(monkeypatch):  # type: ignore[no-untyped-def]
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=1"
    assert log.xray_trace_id(header) == "1-5759e988-bd862e3fe1be46a994272793"
    assert log.xray_trace_id("Parent=557abcec3ee5a047;Sampled=0") is None
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    assert log.xray_trace_id() is None
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
    assert log.xray_trace_id() == "1-5759e988-bd862e3fe1be46a994272793"


def test_context_keys_leave_unknown_values_out(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)

    class Bare:
        aws_request_id = "r-1"

    assert log.lambda_context_keys(Bare(), cold_start=False) == {
        "cold_start": False,
        "function_request_id": "r-1",
    }


def test_line_starts_with_the_standard_keys_and_names_the_caller():
    out = io.StringIO()
    logger = log.JsonLogger(service="svc", stream=out)
    logger.bind({"cold_start": True, "function_request_id": "r-1"})
    logger.info("hello", n=1)
    logger.log("WARNING", "direct")
    first, second = (json.loads(x) for x in out.getvalue().splitlines())
    assert list(first) == [
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "cold_start",
        "function_request_id",
        "n",
    ]
    name = f"{__name__}.test_line_starts_with_the_standard_keys_and_names_the_caller"
    assert first["location"].startswith(name + ":")
    assert second["location"].startswith(name + ":")
    assert second["location"] != first["location"]
