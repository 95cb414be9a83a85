"""Lines read back exactly: DynamoDB-typed values, as-of, history, times."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddbstream.core.audit import event_to_line
from ddbstream.core.decode import decode_record
from ddbstream.errors import UserError
from ddbstream.ops.audit import history as h
from ddbstream.ops.audit.asof import as_of
from ddbstream.ops.audit.items import parse_line, parse_time, to_dynamodb
from ddbstream.testing.records import encode_item, stream_record

T0 = 1_764_064_800  # 2025-11-25T10:00:00Z
KEYS = {"UserId": "u1", "ActivityId": "a1"}


def line(name: str, new: Any, old: Any = None, seq: int = 1, ts: int = T0, keys=KEYS) -> str:  # type: ignore[no-untyped-def]
    return event_to_line(decode_record(stream_record(name, keys, new, old, seq=seq, ts=ts)))


def change(name: str, new: Any, old: Any = None, seq: int = 1, ts: int = T0, keys=KEYS):  # type: ignore[no-untyped-def]
    return parse_line(line(name, new, old, seq, ts, keys))


_TAGS = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}


def _canonical(av: Any) -> Any:
    """An item or AttributeValue compared as DynamoDB does: set order does not matter, numbers
    compare by value."""
    if not (isinstance(av, dict) and len(av) == 1 and next(iter(av)) in _TAGS):
        return {k: _canonical(x) for k, x in av.items()}  # an item
    ((tag, v),) = av.items()
    if tag == "N":
        return (tag, Decimal(v))
    if tag in ("SS", "BS"):
        return (tag, sorted(v))
    if tag == "NS":
        return (tag, sorted(Decimal(x) for x in v))
    if tag == "M":
        return (tag, {k: _canonical(x) for k, x in v.items()})
    if tag == "L":
        return (tag, [_canonical(x) for x in v])
    return (tag, v)


def test_values_come_back_exactly_typed() -> None:
    item = {
        **KEYS,
        "Pi": Decimal("3.1415926535897932384626433832795028841"),
        "Big": 12345678901234567890123456789012345678,
        "Tiny": Decimal("1E-130"),
        "Blob": b"\x00\xff\x10",
        "Text": "AP8Q",  # the same characters as Blob's base64: still a string
        "Tags": {"b", "a"},
        "Scores": {1, Decimal("2.5")},
        "Blobs": {b"\x01", b"\x02"},
        "List": ["x", 1, {"In": b"\x03"}, {"s"}],
        "Map": {"Deep": {"Bin": b"\x04"}, "n": None, "t": True},
        "Empty": [],
    }
    c = change("INSERT", item)
    assert _canonical(to_dynamodb(c.doc["new_image"], c.types("new_image"))) == _canonical(
        encode_item(item)
    )


scalar = st.one_of(
    st.text(max_size=5),
    st.integers(-(10**38) + 1, 10**38 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=6).filter(
        lambda d: abs(d) < Decimal("1e20")
    ),
    st.binary(min_size=1, max_size=5),
    st.booleans(),
    st.none(),
)
value = st.recursive(
    scalar | st.frozensets(st.text(max_size=3), min_size=1, max_size=3).map(set),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.text(min_size=1, max_size=4), value, max_size=5))
def test_any_item_round_trips_through_the_audit_line(attrs: dict[str, Any]) -> None:
    item = {**attrs, **KEYS}
    c = change("INSERT", item)
    assert _canonical(to_dynamodb(c.doc["new_image"], c.types("new_image"))) == _canonical(
        encode_item(item)
    )


def test_as_of_takes_the_latest_change_at_or_before_the_moment() -> None:
    k2 = {"UserId": "u2", "ActivityId": "a2"}
    changes = [
        line("INSERT", {**KEYS, "v": 1}, seq=1, ts=T0),
        line("MODIFY", {**KEYS, "v": 2}, {**KEYS, "v": 1}, seq=2, ts=T0 + 10),
        line("INSERT", {**k2, "v": 9}, seq=3, ts=T0 + 10, keys=k2),
        line("REMOVE", None, {**k2, "v": 9}, seq=4, ts=T0 + 20, keys=k2),
    ]
    at = datetime.fromtimestamp(T0, UTC)
    dup = changes[1]
    snap = as_of(reversed([*changes, dup]), "UserActivities", at + timedelta(seconds=15))
    assert snap.plain_items() == [{**KEYS, "v": 2}, {**k2, "v": 9}]
    snap = as_of(changes, "UserActivities", at + timedelta(seconds=20))
    assert snap.plain_items() == [{**KEYS, "v": 2}]
    assert as_of(changes, "UserActivities", at).plain_items() == [{**KEYS, "v": 1}]
    assert as_of(changes, "UserActivities", at - timedelta(seconds=1)).plain_items() == []
    assert as_of(changes, "Other", at).plain_items() == []


def test_as_of_reports_keys_it_cannot_rebuild() -> None:
    r = stream_record("INSERT", KEYS, {**KEYS, "v": 1}, view="KEYS_ONLY")
    snap = as_of(
        [event_to_line(decode_record(r))], "UserActivities", datetime.fromtimestamp(T0 + 1, UTC)
    )
    assert snap.unknown and not snap.items


def test_history_shows_each_change_with_what_it_changed() -> None:
    changes = [
        change("REMOVE", None, {**KEYS, "v": 2, "w": "x"}, seq=10, ts=T0 + 20),
        change("INSERT", {**KEYS, "v": 1}, seq=2, ts=T0),
        change("MODIFY", {**KEYS, "v": 2, "w": "x"}, {**KEYS, "v": 1}, seq=9, ts=T0 + 10),
        change(
            "INSERT",
            {"UserId": "u1", "ActivityId": "other"},
            seq=3,
            keys={"UserId": "u1", "ActivityId": "other"},
        ),
    ]
    steps = h.history(
        [*changes, changes[2]], "UserActivities", {"UserId": "u1", "ActivityId": "a1"}
    )
    (only,) = steps.values()
    assert [s.change.event_name for s in only] == ["INSERT", "MODIFY", "REMOVE"]
    assert only[1].added == {"w": "x"} and only[1].changed == {"v": (1, 2)}
    assert only[2].removed == {**KEYS, "v": 2, "w": "x"}
    text = h.render(steps)
    assert "~ v: 1 -> 2" in text and '+ w = "x"' in text
    # a partial key matches every item under it
    assert len(h.history(changes, "UserActivities", {"UserId": "u1"})) == 2


def test_history_numbers_match_by_value() -> None:
    k = {"UserId": "u1", "N": Decimal("1.5")}
    c = change("INSERT", {**k}, keys=k)
    assert h.key_matches(c.keys, {"N": "1.50"})
    assert not h.key_matches(c.keys, {"N": "1.6"})


def test_bad_key_argument_is_a_user_error() -> None:
    with pytest.raises(UserError, match="NAME=VALUE"):
        h.parse_key_args(["UserId"])


def test_times_from_the_command_line() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_time("2026-11-27T10:00:00Z", "x") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert parse_time("2026-11-27 10:00", "x") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert parse_time("2026-11-27T11:00:00+01:00", "x") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert parse_time("2h", "x", now) == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert parse_time("now", "x", now) == now
    assert parse_time("1764064800", "x") == datetime(2025, 11, 25, 10, tzinfo=UTC)
    with pytest.raises(UserError, match="--since 'yesterday': not a time"):
        parse_time("yesterday", "--since")


def test_binary_lookalike_strings_stay_strings() -> None:
    blob = base64.b64encode(b"hi").decode()
    c = change("INSERT", {**KEYS, "S": blob})
    assert to_dynamodb(c.doc["new_image"], c.types("new_image"))["S"] == {"S": blob}


def test_as_of_uses_the_event_time_of_a_change_without_creation_time() -> None:
    """AWS's sample events have no ApproximateCreationDateTime: the line's creation time is
    null and its event time is when the batch arrived."""
    doc = json.loads(line("INSERT", {**KEYS, "v": 1}, ts=T0 + 30))
    doc["approximate_creation_time"] = None
    text = json.dumps(doc)
    at = datetime.fromtimestamp(T0, UTC)
    assert as_of([text], "UserActivities", at).plain_items() == []
    assert as_of([text], "UserActivities", at + timedelta(seconds=30)).plain_items() == [
        {**KEYS, "v": 1}
    ]
