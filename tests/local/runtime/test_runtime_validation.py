"""Conformance: the event source mappings Lambda refuses are refused by the emulator too, with
Lambda's error type and message, through real boto3 requests (create and update)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from ddbstream.local.runtime.validation import MappingRequestError, check_mapping_request

RECORDING = """
def handler(event, context):
    record(event)
"""


def refused(call, **kw) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def pattern(i: int) -> dict[str, str]:
    return {"Pattern": json.dumps({"dynamodb": {"Keys": {"pk": {"S": [f"k{i}"]}}}})}


@pytest.fixture
def ready(lab):
    lab.table()
    lab.function(RECORDING)
    return lab


def create(lab, **kw):
    return lab.lam.create_event_source_mapping(
        EventSourceArn=lab.stream_arn, FunctionName=lab.function_name, **kw
    )


def test_at_timestamp_is_refused_for_a_dynamodb_stream(ready):
    code, message = refused(
        create, lab=ready, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1_700_000_000
    )
    assert code == "InvalidParameterValueException"
    assert message == f"Unsupported starting position for arn type: {ready.stream_arn}"
    assert (
        ready.lam.list_event_source_mappings(FunctionName=ready.function_name)[
            "EventSourceMappings"
        ]
        == []
    )  # nothing stored


def test_a_missing_starting_position_is_refused(ready):
    code, message = refused(create, lab=ready)
    assert code == "InvalidParameterValueException"
    assert message == (
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
        "constraint: Member must not be null."
    )


@pytest.mark.parametrize("age", [0, 1, 59])
def test_maximum_record_age_below_60_other_than_minus_one_is_refused(ready, age):
    code, message = refused(
        create, lab=ready, StartingPosition="LATEST", MaximumRecordAgeInSeconds=age
    )
    assert code == "InvalidParameterValueException"
    assert message == (
        "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"
    )


def test_maximum_record_age_above_a_week_is_refused(ready):
    code, message = refused(
        create, lab=ready, StartingPosition="LATEST", MaximumRecordAgeInSeconds=604_801
    )
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value '604801' at 'maximumRecordAgeInSeconds' failed to "
        "satisfy constraint: Member must have value less than or equal to 604800"
    )


def test_more_than_five_filters_are_refused(ready):
    code, message = refused(
        create,
        lab=ready,
        StartingPosition="LATEST",
        FilterCriteria={"Filters": [pattern(i) for i in range(6)]},
    )
    assert code == "InvalidParameterValueException"
    assert "exceeds the limit of 5 filters" in message


def test_an_invalid_filter_pattern_is_refused(ready):
    bad = {"Filters": [{"Pattern": json.dumps({"eventName": [{"bogus-operator": 1}]})}]}
    code, message = refused(create, lab=ready, StartingPosition="LATEST", FilterCriteria=bad)
    assert (code, message) == (
        "InvalidParameterValueException",
        "Invalid filter pattern definition.",
    )


def test_boundary_values_are_accepted_and_updates_are_checked_too(ready):
    uuids = []
    for age in (-1, 60, 604_800):
        m = create(
            ready,
            StartingPosition="TRIM_HORIZON",
            MaximumRecordAgeInSeconds=age,
            FilterCriteria={"Filters": [pattern(i) for i in range(5)]},
        )
        uuids.append(m["UUID"])
        assert m["MaximumRecordAgeInSeconds"] == age
    update = ready.lam.update_event_source_mapping
    assert refused(update, UUID=uuids[0], MaximumRecordAgeInSeconds=30)[0] == (
        "InvalidParameterValueException"
    )
    assert (
        refused(update, UUID=uuids[0], FilterCriteria={"Filters": [pattern(i) for i in range(6)]})[
            0
        ]
        == "InvalidParameterValueException"
    )
    assert refused(update, UUID=uuids[0], MaximumRetryAttempts=10_001)[0] == "ValidationException"
    got = ready.lam.get_event_source_mapping(UUID=uuids[0])
    assert got["MaximumRecordAgeInSeconds"] == -1  # the refused updates changed nothing
    update(UUID=uuids[0], MaximumRecordAgeInSeconds=3600)
    assert ready.lam.get_event_source_mapping(UUID=uuids[0])["MaximumRecordAgeInSeconds"] == 3600
    for u in uuids:
        ready.lam.delete_event_source_mapping(UUID=u)


STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"


@pytest.mark.parametrize(
    ("request_", "create_", "error_type"),
    [
        ({"StartingPosition": "LATEST"}, True, None),
        ({"StartingPosition": "SOMEWHERE"}, True, "ValidationException"),
        ({}, False, None),  # an update does not carry StartingPosition
        (
            {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": -2},
            True,
            "ValidationException",
        ),
        ({"ParallelizationFactor": 11}, False, "ValidationException"),
        ({"BatchSize": 10_001}, False, "ValidationException"),
        ({"TumblingWindowInSeconds": 901}, False, "ValidationException"),
        (
            {"FilterCriteria": {"Filters": [{"Pattern": "{not json"}]}},
            False,
            "InvalidParameterValueException",
        ),
        ({"FilterCriteria": {"Filters": []}}, False, None),  # an empty list removes the filters
    ],
)
def test_mapping_request_rules(request_, create_, error_type):
    if error_type is None:
        check_mapping_request(request_, source_arn=STREAM, create=create_)
        return
    with pytest.raises(MappingRequestError) as exc:
        check_mapping_request(request_, source_arn=STREAM, create=create_)
    assert exc.value.error_type == error_type


def test_other_sources_are_left_to_moto():
    sqs = "arn:aws:sqs:us-east-1:123456789012:q"
    check_mapping_request({"MaximumRecordAgeInSeconds": 5}, source_arn=sqs, create=True)
