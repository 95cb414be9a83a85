"""Decoding stream records: every DynamoDB type, each stream view type, TTL deletions."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ddbstream.core.decode import (
    DecodeError,
    decode_item,
    decode_number,
    decode_record,
    decode_value,
    table_from_arn,
)
from ddbstream.testing.records import stream_record

ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/UserActivities/stream/2026-01-01T00:00:00.000"


def raw_record(**ddb_extra):  # type: ignore[no-untyped-def]
    ddb = {
        "ApproximateCreationDateTime": 1764064800,
        "Keys": {"UserId": {"S": "u1"}, "ActivityId": {"S": "a1"}},
        "SequenceNumber": "111",
        "SizeBytes": 59,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    ddb.update(ddb_extra)
    return {
        "eventID": "ev-1",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "eventSourceARN": ARN,
        "dynamodb": ddb,
    }


@pytest.mark.parametrize(
    ("av", "expected"),
    [
        ({"S": "héllo"}, "héllo"),
        ({"S": ""}, ""),
        ({"N": "42"}, 42),
        ({"N": "-7"}, -7),
        ({"N": "0"}, 0),
        ({"N": "1.5"}, Decimal("1.5")),
        ({"N": "1E+3"}, 1000),
        ({"N": "1.0"}, 1),
        ({"N": "-0.000001"}, Decimal("-0.000001")),
        ({"BOOL": True}, True),
        ({"BOOL": False}, False),
        ({"NULL": True}, None),
        ({"B": "AAEC/w=="}, "AAEC/w=="),
        ({"SS": ["b", "a", "c"]}, ["a", "b", "c"]),
        ({"NS": ["10", "9", "-1.5"]}, [Decimal("-1.5"), 9, 10]),
        ({"BS": ["Ag==", "AQ=="]}, ["AQ==", "Ag=="]),
        ({"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}]}, ["x", 1, None]),
        ({"L": []}, []),
        ({"M": {}}, {}),
    ],
)
def test_each_type_decodes_to_its_json_value(av, expected):  # type: ignore[no-untyped-def]
    got = decode_value(av)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(got, list):
        assert [type(x) for x in got] == [type(x) for x in expected]


def test_numbers_keep_38_significant_digits():
    text = "3.1415926535897932384626433832795028841"  # 38 digits after the 3
    d = decode_number(text)
    assert isinstance(d, Decimal)
    assert str(d) == text
    assert decode_number("99999999999999999999999999999999999999") == 10**38 - 1
    assert decode_number("9.9999999999999999999999999999999999999E+125") == int(
        Decimal("9.9999999999999999999999999999999999999E+125")
    )
    assert decode_number("1E-130") == Decimal("1E-130")


def test_nested_maps_and_lists():
    av = {
        "M": {
            "profile": {"M": {"tags": {"SS": ["z", "y"]}, "score": {"N": "0.1"}}},
            "history": {"L": [{"M": {"at": {"N": "1"}}}, {"L": [{"BOOL": False}]}]},
            "blob": {"B": base64.b64encode(b"\x00\xff").decode()},
        }
    }
    assert decode_value(av) == {
        "profile": {"tags": ["y", "z"], "score": Decimal("0.1")},
        "history": [{"at": 1}, [False]],
        "blob": "AP8=",
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"S": 5},
        {"N": "abc"},
        {"N": "1_000"},
        {"N": " 12"},
        {"N": "NaN"},
        {"N": "Infinity"},
        {"N": 12},
        {"N": ""},
        {"B": "not base64!"},
        {"BOOL": "true"},
        {"NULL": False},
        {"X": "1"},
        {"S": "a", "N": "1"},
        {},
        "S",
        {"M": []},
        {"L": {}},
        {"SS": "a"},
        {"NS": ["1", "x"]},
        {"M": {"inner": {"N": "x"}}},
    ],
)
def test_malformed_values_raise_decode_error(bad):  # type: ignore[no-untyped-def]
    with pytest.raises(DecodeError):
        decode_value(bad)


def test_insert_record_fields():
    rec = raw_record(NewImage={"UserId": {"S": "u1"}, "ActivityId": {"S": "a1"}, "N": {"N": "5"}})
    ev = decode_record(rec)
    assert ev.event_id == "ev-1"
    assert ev.event_name == "INSERT"
    assert ev.table_name == "UserActivities"
    assert ev.keys == {"UserId": "u1", "ActivityId": "a1"}
    assert ev.new_image == {"UserId": "u1", "ActivityId": "a1", "N": 5}
    assert ev.old_image is None
    assert ev.sequence_number == "111"
    assert ev.size_bytes == 59
    assert ev.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert ev.aws_region == "eu-west-1"
    assert ev.ttl_expiry is False
    assert ev.added is None and ev.changed is None and ev.removed is None


def test_event_time_is_utc_from_approximate_creation_date_time():
    ev = decode_record(raw_record(ApproximateCreationDateTime=1764064800))
    assert ev.event_time == datetime(2025, 11, 25, 10, 0, 0, tzinfo=UTC)
    assert ev.event_time.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    ev = decode_record(raw_record(ApproximateCreationDateTime=1764064800.25))
    assert ev.event_time == datetime(2025, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("view", "has_new", "has_old"),
    [
        ("KEYS_ONLY", False, False),
        ("NEW_IMAGE", True, False),
        ("OLD_IMAGE", False, True),
        ("NEW_AND_OLD_IMAGES", True, True),
    ],
)
def test_each_stream_view_type(view, has_new, has_old):  # type: ignore[no-untyped-def]
    keys = {"UserId": "u1", "ActivityId": "a1"}
    old = {**keys, "ActivityType": "LOGIN", "Gone": 1}
    new = {**keys, "ActivityType": "LOGOUT", "Fresh": True}
    ev = decode_record(stream_record("MODIFY", keys, new, old, view=view))
    assert ev.stream_view_type == view
    assert ev.keys == keys
    assert ev.new_image == (new if has_new else None)
    assert ev.old_image == (old if has_old else None)
    if has_new and has_old:
        assert (ev.added, ev.removed, ev.changed) == (("Fresh",), ("Gone",), ("ActivityType",))
    else:  # a diff needs both images: unknown, not "nothing changed"
        assert (ev.added, ev.removed, ev.changed) == (None, None, None)


def test_remove_by_ttl_is_flagged():
    keys = {"UserId": "u1", "ActivityId": "a1"}
    ttl = decode_record(stream_record("REMOVE", keys, old={**keys, "x": 1}, ttl=True))
    assert ttl.ttl_expiry is True
    assert ttl.event_name == "REMOVE"
    user = decode_record(stream_record("REMOVE", keys, old={**keys, "x": 1}))
    assert user.ttl_expiry is False
    # Another service principal, or a user identity, is not a TTL expiry.
    rec = stream_record("REMOVE", keys, old=keys)
    rec["userIdentity"] = {"type": "Service", "principalId": "other.amazonaws.com"}
    assert decode_record(rec).ttl_expiry is False


def test_table_name_from_stream_arn():
    assert table_from_arn(ARN) == "UserActivities"
    assert table_from_arn("arn:aws-cn:dynamodb:cn-north-1:1:table/my.table-1/stream/x") == (
        "my.table-1"
    )
    for bad in (None, "", "UserActivities", "arn:aws:sqs:us-east-1:1:queue", 5):
        with pytest.raises(DecodeError):
            table_from_arn(bad)


def test_a_record_without_creation_time_is_decoded_at_the_time_it_arrived():
    # AWS's own sample events (the Lambda console's test event) carry no
    # ApproximateCreationDateTime: not poison. The event time is the batch's arrival.
    rec = raw_record()
    del rec["dynamodb"]["ApproximateCreationDateTime"]
    ev = decode_record(rec, received_at=1764064805.75)
    assert ev.approximate_creation_time is None  # says the creation time is missing
    assert ev.event_time == datetime(2025, 11, 25, 10, 0, 5, tzinfo=UTC)  # whole seconds
    before = int(time.time())
    assert before <= decode_record(rec).event_time.timestamp() <= time.time()  # default: now
    rec["dynamodb"]["ApproximateCreationDateTime"] = None  # null is missing too
    assert decode_record(rec, received_at=0).approximate_creation_time is None


def test_missing_event_id_falls_back_to_sequence_number():
    rec = raw_record()
    del rec["eventID"]
    assert decode_record(rec).event_id == "111"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.update(eventName="UPSERT"),
        lambda r: r.pop("dynamodb"),
        lambda r: r["dynamodb"].pop("SequenceNumber"),
        lambda r: r["dynamodb"].pop("Keys"),
        lambda r: r["dynamodb"].update(ApproximateCreationDateTime="yesterday"),
        lambda r: r["dynamodb"].update(StreamViewType="EVERYTHING"),
        lambda r: r["dynamodb"].update(SizeBytes="big"),
        lambda r: r.pop("eventSourceARN"),
        lambda r: r["dynamodb"].update(Keys={"a": {"N": "x"}}),
        lambda r: r["dynamodb"].update(Keys=[]),
    ],
)
def test_malformed_records_raise_decode_error(mutate):  # type: ignore[no-untyped-def]
    rec = raw_record()
    mutate(rec)
    with pytest.raises(DecodeError):
        decode_record(rec)


def test_decode_error_names_the_keys():
    with pytest.raises(DecodeError, match=r"dynamodb\.Keys"):
        decode_record(raw_record(Keys={"a": {"Q": "x"}}))
    with pytest.raises(DecodeError):
        decode_item([], "item")


def test_an_undecodable_image_value_leaves_the_rest_of_the_change():
    """Partial poison: the keys and whatever else decodes make the change; what does not is
    named (image and attribute) with the reason, and left out of the images and the diff."""
    ev = decode_record(raw_record(NewImage={"a": {"Q": "x"}, "b": {"S": "fine"}}))
    assert ev.new_image == {"b": "fine"}
    assert ev.undecodable == {"new_image.a": "unknown attribute type 'Q'"}
    ev = decode_record(raw_record(OldImage=[]))
    assert ev.old_image is None and ev.undecodable == {"old_image": "must be an object, got list"}
    assert decode_record(raw_record()).undecodable is None  # the usual case


def test_types_the_json_value_hides_are_named() -> None:
    """B looks like S and the sets look like lists once decoded: the event names them, nested
    ones by their path, so the exact item can be rebuilt from the audit line."""
    blob = base64.b64encode(b"\x00\xff").decode()
    new = {
        "UserId": {"S": "u1"},
        "ActivityId": {"B": blob},
        "Photo": {"B": blob},
        "Tags": {"SS": ["b", "a"]},
        "Scores": {"NS": ["2", "1"]},
        "Blobs": {"BS": [blob]},
        "Plain": {"L": [{"S": "x"}, {"N": "1"}]},
        "Meta": {"M": {"thumb": {"B": blob}, "n": {"N": "1"}}},
        "Hist": {"L": [{"S": "x"}, {"M": {"k": {"SS": ["z"]}}}]},
    }
    ev = decode_record(
        raw_record(Keys={"UserId": {"S": "u1"}, "ActivityId": {"B": blob}}, NewImage=new)
    )
    assert ev.types == {
        "keys": {"ActivityId": "B"},
        "new_image": {
            "ActivityId": "B",
            "Photo": "B",
            "Tags": "SS",
            "Scores": "NS",
            "Blobs": "BS",
            "Meta": {"M": {"thumb": "B"}},
            "Hist": {"L": {"1": {"M": {"k": "SS"}}}},
        },
    }


def test_records_of_strings_numbers_maps_and_lists_name_no_types() -> None:
    new = {"UserId": {"S": "u1"}, "L": {"L": [{"N": "1"}, {"M": {"a": {"BOOL": True}}}]}}
    assert decode_record(raw_record(NewImage=new)).types is None
    # a typed value in one record does not mark the next one
    decode_record(raw_record(NewImage={**new, "B": {"B": "AA=="}}))
    assert decode_record(raw_record(NewImage=new)).types is None


def test_types_walk_skips_malformed_values_of_a_partial_change() -> None:
    """A partially decodable record's raw image holds values that are not AttributeValues:
    the type walk leaves them out instead of failing the record."""
    from ddbstream.core.decode import attribute_types

    raw = {"Id": {"S": "x"}, "Bad": 5, "Odd": {"B": "AA==", "S": "x"}, "Tags": {"SS": ["a"]}}
    assert attribute_types(None, raw, None) == {"new_image": {"Tags": "SS"}}


def test_a_modify_names_the_types_of_reused_changed_and_added_attributes() -> None:
    """The new image of a MODIFY reuses the old image's unchanged values without decoding
    them again: their types are named all the same."""
    old = {"UserId": {"S": "u1"}, "Tags": {"SS": ["a"]}, "Blob": {"B": "AA=="}, "N": {"N": "1"}}
    new = {
        **old,
        "Blob": {"B": "AQ=="},
        "Scores": {"NS": ["1"]},
        "Meta": {"M": {"b": {"B": "AA=="}}},
    }
    rec = raw_record(NewImage=new, OldImage=old)
    rec["eventName"] = "MODIFY"
    ev = decode_record(rec)
    assert ev.changed == ("Blob",)
    assert ev.types == {
        "new_image": {"Tags": "SS", "Blob": "B", "Scores": "NS", "Meta": {"M": {"b": "B"}}},
        "old_image": {"Tags": "SS", "Blob": "B"},
    }
