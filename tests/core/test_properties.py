"""Property tests: decoding agrees with boto3's TypeDeserializer exactly; a batch with malformed
records and failing sinks never crashes, never loses or skips a good record."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbstream.core import audit
from ddbstream.core.audit import (
    build_audit_object,
    event_time_iso,
    event_to_dict,
    event_to_line,
    read_audit_body,
)
from ddbstream.core.decode import ChangeEvent, decode_item, decode_record, diff_images
from ddbstream.core.jsonenc import dumps, loads
from ddbstream.core.pipeline import PipelineConfig, build_quarantine_object, process_batch
from ddbstream.testing.memory import MemoryAudit, MemoryNotifier, MemoryQuarantine
from ddbstream.testing.records import stream_record

# --- DynamoDB values on the wire (as Lambda delivers them: B is base64 text) -------------


@st.composite
def number_text(draw: Any) -> str:
    digits = draw(st.integers(min_value=0, max_value=10**38 - 1))
    exp = draw(st.integers(min_value=-128, max_value=125 - len(str(digits)) + 1))
    d = Decimal(digits).scaleb(exp)
    if draw(st.booleans()):
        d = -d
    # The same value in the spellings DynamoDB and clients use (at most 38 digits of text).
    plain = f"{d:f}"
    if sum(c.isdigit() for c in plain.lstrip("-0.")) > 38:
        plain = str(d)
    return draw(st.sampled_from([str(d), plain, str(d).lower()]))


def _unique_numbers(xs: list[str]) -> list[str]:
    seen: set[Decimal] = set()
    out = []
    for x in xs:
        if Decimal(x) not in seen:
            seen.add(Decimal(x))
            out.append(x)
    return out


b64 = st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode())
scalar_av = st.one_of(
    st.text(max_size=20).map(lambda s: {"S": s}),
    number_text().map(lambda n: {"N": n}),
    b64.map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(st.text(max_size=8), min_size=1, max_size=5, unique=True).map(lambda x: {"SS": x}),
    st.lists(number_text(), min_size=1, max_size=5).map(_unique_numbers).map(lambda x: {"NS": x}),
    st.lists(st.binary(max_size=8), min_size=1, max_size=4, unique=True).map(
        lambda bs: {"BS": [base64.b64encode(b).decode() for b in bs]}
    ),
)
attr_name = st.text(min_size=1, max_size=12)
av = st.recursive(
    scalar_av,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda x: {"L": x}),
        st.dictionaries(attr_name, inner, max_size=4).map(lambda x: {"M": x}),
    ),
    max_leaves=12,
)
item = st.dictionaries(attr_name, av, min_size=1, max_size=8)
# Batches need many records; their values matter less than their shape (kept cheap to draw).
small_item = st.dictionaries(
    st.sampled_from(["A", "B", "C", "ActivityType"]), scalar_av, max_size=3
)


def _to_boto_wire(av: dict[str, Any]) -> dict[str, Any]:
    """One AttributeValue from Lambda's wire (B as base64 text) to boto3's (B as bytes)."""
    ((tag, v),) = av.items()
    if tag == "B":
        return {"B": base64.b64decode(v)}
    if tag == "BS":
        return {"BS": [base64.b64decode(x) for x in v]}
    if tag == "M":
        return {"M": {k: _to_boto_wire(x) for k, x in v.items()}}
    if tag == "L":
        return {"L": [_to_boto_wire(x) for x in v]}
    return av


def _normalise_boto(v: Any) -> Any:
    """TypeDeserializer's value -> ddbstream's documented representation."""
    if isinstance(v, Binary):
        return base64.b64encode(v.value).decode()
    if isinstance(v, set):
        xs = list(v)
        if xs and isinstance(xs[0], Binary):
            return [base64.b64encode(b.value).decode() for b in sorted(xs, key=lambda b: b.value)]
        return sorted(xs)
    if isinstance(v, dict):
        return {k: _normalise_boto(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_normalise_boto(x) for x in v]
    return v


def _exactly_equal(a: Any, b: Any) -> bool:
    """Equal values of the same JSON kind; numbers equal in value (int vs Decimal)."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return type(a) is type(b) and a == b
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_exactly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_exactly_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@given(item)
def test_any_valid_item_decodes_exactly_like_type_deserializer(wire: dict[str, Any]) -> None:
    ours = decode_item(wire)
    td = TypeDeserializer()
    theirs = {k: _normalise_boto(td.deserialize(_to_boto_wire(v))) for k, v in wire.items()}
    assert _exactly_equal(ours, theirs)
    # ... and survives the audit line (JSON) without losing a digit.
    back = json.loads(dumps(ours), parse_float=Decimal)
    assert _exactly_equal(back, theirs)


# --- batches with malformed records and failing sinks ------------------------------------

KEYS = {"UserId": {"S": "u"}, "ActivityId": {"S": "a"}}

CORRUPTIONS = [  # poison as a whole: nothing of the change can be audited
    lambda r: r.update(eventName="UPSERT"),
    lambda r: r.pop("dynamodb"),
    lambda r: r["dynamodb"].pop("Keys"),
    lambda r: r["dynamodb"]["Keys"].update(UserId={"N": "x"}),
    lambda r: r["dynamodb"].update(ApproximateCreationDateTime="soon"),
    lambda r: r.update(eventSourceARN="arn:aws:sqs:us-east-1:1:q"),
    lambda r: r["dynamodb"].pop("SequenceNumber"),
]

PARTIAL = [  # an image value that does not decode: audited without it, raw form quarantined
    lambda r: r["dynamodb"]["NewImage"].update(X={"N": "1.2.3"}),
    lambda r: r["dynamodb"]["NewImage"].update(X={"B": "@@"}),
    lambda r: r["dynamodb"]["NewImage"].update(X={"Q": 1}),
    lambda r: r["dynamodb"]["NewImage"].update(X={"M": {"y": {"SS": "no"}}}),
    lambda r: r["dynamodb"]["OldImage"].update(X={"N": "e5"}),
    lambda r: r["dynamodb"].update(OldImage="not an image"),
]


@st.composite
def batch(draw: Any) -> tuple[list[Any], list[bool]]:
    """Records, and for each whether it is audited (good, or partially decodable); the ones
    in ``PARTIAL_SEQS`` of the returned records are also quarantined."""
    n = draw(st.integers(min_value=0, max_value=20))
    records: list[Any] = []
    is_good: list[bool] = []
    for i in range(n):
        new = draw(small_item)
        ts = 1_764_064_800 + draw(st.integers(min_value=-7200, max_value=7200))
        name = draw(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
        table = draw(st.sampled_from(["UserActivities", "Other"]))
        rec = stream_record(
            name, KEYS, {**KEYS, **new}, KEYS, seq=i + 1, ts=ts, table=table, encoded=True
        )
        kind = draw(st.integers(min_value=0, max_value=len(CORRUPTIONS) + 3))
        if kind < len(CORRUPTIONS):
            rec = copy.deepcopy(rec)
            CORRUPTIONS[kind](rec)
            records.append(rec)
            is_good.append(False)
        elif draw(st.integers(min_value=0, max_value=5)) == 0:
            rec = copy.deepcopy(rec)
            draw(st.sampled_from(PARTIAL))(rec)
            rec["partial"] = True  # an extra envelope key, ignored by the decoder
            records.append(rec)
            is_good.append(True)
        elif kind == len(CORRUPTIONS):
            records.append(draw(st.sampled_from([None, 7, "text", [], {}])))
            is_good.append(False)
        else:
            records.append(rec)
            is_good.append(True)
    return records, is_good


@given(batch())
def test_malformed_records_never_crash_or_cost_a_good_record(data: Any) -> None:
    records, is_good = data
    audit, notifier, quarantine = MemoryAudit(), MemoryNotifier(), MemoryQuarantine()
    result = process_batch(
        records, config=PipelineConfig(), audit=audit, notifier=notifier, quarantine=quarantine
    )
    assert result.failures == []
    lines = [row for obj in audit.objects.values() for row in read_audit_body(obj.body)]
    good_seqs = [str(i + 1).zfill(21) for i, g in enumerate(is_good) if g]
    # every good record is in the audit log exactly once, and notified exactly once
    assert sorted(r["sequence_number"] for r in lines) == sorted(good_seqs)
    assert sorted(n.index for n in notifier.sent) == [i for i, g in enumerate(is_good) if g]
    # every malformed one is quarantined; a partial one is delivered and quarantined too
    assert [o.status for o in result.outcomes] == [
        "delivered" if g else "quarantined" for g in is_good
    ]
    partial = sum(1 for r in records if isinstance(r, dict) and r.get("partial"))
    assert result.records_quarantined == is_good.count(False) + partial
    assert sum(1 for r in lines if r.get("undecodable_attributes")) == partial


@given(batch(), st.data(), st.sampled_from([1, 3]))
def test_failures_are_a_suffix_and_everything_before_it_was_delivered(
    data: Any, draw: Any, concurrency: int
) -> None:
    records, _ = data
    fail_hours = draw.draw(st.sets(st.sampled_from(["hour=08", "hour=09", "hour=10", "hour=11"])))
    fail_notes = draw.draw(st.sets(st.integers(min_value=0, max_value=30), max_size=3))
    fail_quarantine = draw.draw(st.booleans())
    audit = MemoryAudit(fail=lambda o: any(h in o.key for h in fail_hours))
    notifier = MemoryNotifier(fail_entry=lambda n: n.index in fail_notes)
    quarantine = MemoryQuarantine(fail=lambda q: fail_quarantine)
    result = process_batch(
        records,
        config=PipelineConfig(publish_concurrency=concurrency),
        audit=audit,
        notifier=notifier,
        quarantine=quarantine,
    )
    first = result.first_failure
    cut = len(records) if first is None else first
    audited = {
        r["sequence_number"] for obj in audit.objects.values() for r in read_audit_body(obj.body)
    }
    notified = {n.index for n in notifier.sent}
    for o in result.outcomes[:cut]:
        if o.status == "quarantined":
            # keyed by content: identical poison records share one object
            q = build_quarantine_object("quarantine/", o.index, records[o.index], "")
            assert q.key in quarantine.objects
        else:
            assert o.status == "delivered"
            assert o.sequence_number in audited
            assert o.index in notified
    # the rest is reported, in stream order, so the event source mapping retries it
    assert all(o.status == "failed" for o in result.outcomes[cut:])
    assert result.failures == [
        o.sequence_number for o in result.outcomes[cut:] if o.sequence_number
    ]


@settings(max_examples=60)  # two recursive items per example: the slowest strategy here
@given(item, item, st.booleans())
def test_modify_diff_matches_a_diff_of_the_decoded_images(
    old_wire: dict[str, Any], new_wire: dict[str, Any], share: bool
) -> None:
    if share:  # most attributes of a real MODIFY are unchanged: reuse some of the old ones
        new_wire = {**old_wire, **dict(list(new_wire.items())[:2])}
    rec = stream_record("MODIFY", KEYS, new_wire, old_wire, encoded=True)
    ev = decode_record(rec)
    old, new = decode_item(old_wire), decode_item(new_wire)
    assert _exactly_equal(ev.new_image, new) and _exactly_equal(ev.old_image, old)
    assert (ev.added, ev.removed, ev.changed) == diff_images(old, new)


@given(
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    st.integers(min_value=-20, max_value=5),
)
def test_short_decimals_are_written_exactly(digits: int, exp: int) -> None:
    d = Decimal(digits).scaleb(exp)
    text = dumps({"n": d, "l": [d]})
    back = json.loads(text, parse_float=Decimal)
    assert back["n"] == d and back["l"] == [d]


@settings(max_examples=60)
@given(
    item,
    item,
    st.sampled_from(["INSERT", "MODIFY", "REMOVE"]),
    st.sampled_from(["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]),
    st.booleans(),
    st.one_of(st.integers(min_value=0, max_value=4_000_000_000), st.floats(0, 4e9)),
)
def test_audit_line_is_the_json_of_the_event(
    new: dict[str, Any], old: dict[str, Any], name: str, view: str, ttl: bool, ts: Any
) -> None:
    rec = stream_record(name, KEYS, new, old, view=view, ttl=ttl, ts=ts, encoded=True)
    if ts == 0:
        del rec["awsRegion"]
        del rec["dynamodb"]["SizeBytes"]
    ev = decode_record(rec)
    line = event_to_line(ev)
    # same JSON document (a number may be spelled 1e-05 in one and 0.00001 in the other)
    assert loads(line) == loads(dumps(event_to_dict(ev)))
    assert line.isascii() and "\n" not in line


# --- the optimised audit path against reference implementations: byte-identical output ----


def reference_line(ev: ChangeEvent) -> str:
    """The audit line as first written: every fixed field formatted per event, the variable
    part through :func:`dumps`."""
    body = dumps(
        {
            "keys": ev.keys,
            "new_image": ev.new_image,
            "old_image": ev.old_image,
            "added_attributes": ev.added,
            "removed_attributes": ev.removed,
            "changed_attributes": ev.changed,
        }
    )
    t = ev.event_time
    iso = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ")
    q = dumps
    size, view, region = ev.size_bytes, ev.stream_view_type, ev.aws_region
    created = ev.approximate_creation_time
    return (
        f'{{"event_id":{q(ev.event_id)},"event_name":"{ev.event_name}",'
        f'"table_name":{q(ev.table_name)},{body[1:-1]},'
        f'"sequence_number":{q(ev.sequence_number)},"event_time":"{iso}",'
        f'"approximate_creation_time":{"null" if created is None else repr(created)},'
        f'"size_bytes":{"null" if size is None else size},'
        f'"stream_view_type":{"null" if view is None else q(view)},'
        f'"ttl_expiry":{"true" if ev.ttl_expiry else "false"},'
        f'"aws_region":{"null" if region is None else q(region)},'
        f'"attribute_types":{"null" if ev.types is None else q(ev.types)}}}'
    )


def reference_body(lines: list[str]) -> tuple[bytes, str]:
    data = ("\n".join(lines) + "\n").encode("ascii")
    return gzip.compress(data, compresslevel=audit.GZIP_LEVEL, mtime=0), hashlib.sha256(
        data
    ).hexdigest()


@settings(max_examples=150)
@given(
    item,
    item,
    st.sampled_from(["INSERT", "MODIFY", "REMOVE"]),
    st.sampled_from(["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]),
    st.booleans(),
    st.one_of(st.integers(min_value=0, max_value=4_000_000_000), st.floats(0, 4e9)),
    st.sampled_from(["UserActivities", "t.a-b_1"]),
    st.sampled_from(["us-east-1", "eu-west-3"]),
)
def test_audit_line_is_byte_identical_to_the_reference(
    new: dict[str, Any],
    old: dict[str, Any],
    name: str,
    view: str,
    ttl: bool,
    ts: Any,
    table: str,
    region: str,
) -> None:
    rec = stream_record(
        name, KEYS, new, old, view=view, ttl=ttl, ts=ts, table=table, region=region, encoded=True
    )
    if ts == 0:
        del rec["awsRegion"]
        del rec["dynamodb"]["SizeBytes"]
        del rec["dynamodb"]["StreamViewType"]
    ev = decode_record(rec)
    assert event_to_line(ev) == reference_line(ev)
    assert event_to_line(ev) == reference_line(ev)  # second time from the caches


EVENT_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@given(
    st.text(max_size=12),
    st.text(max_size=12),
    st.text(max_size=12),
    st.one_of(st.none(), st.text(max_size=12)),
    st.one_of(st.none(), st.text(max_size=12)),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_hand_built_events_too(
    event_id: str,
    table: str,
    seq: str,
    view: str | None,
    region: str | None,
    ttl: bool,
    size: int | None,
) -> None:
    ev = ChangeEvent(
        event_id,
        "MODIFY",
        table,
        {"k": "v\u2028"},
        {"n": Decimal("1.50"), "s": ["a", "b"]},
        None,
        seq,
        EVENT_TIME,
        EVENT_TIME.timestamp(),
        size,
        view,
        ttl,
        region,
        (),
        ("x",),
        (),
    )
    assert event_to_line(ev) == reference_line(ev)


def test_caches_stay_bounded_and_correct() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    for i in range(600):
        ev = ChangeEvent(
            f"id{i}",
            "INSERT",
            f"table{i}",
            {"k": i},
            None,
            None,
            str(i),
            datetime.fromtimestamp(base + i * 0.5, tz=UTC),
            base + i * 0.5,
            None,
            None,
            False,
            f"region-{i}",
        )
        assert event_to_line(ev) == reference_line(ev)
        assert event_time_iso(ev) in event_to_line(ev)
    assert len(audit._head_cache) <= 257 and len(audit._tail_cache) <= 257


@settings(max_examples=30)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=127), max_size=40), min_size=1))
def test_audit_object_is_byte_identical_to_the_reference(texts: list[str]) -> None:
    lines = [dumps({"t": t}) for t in texts]
    obj = build_audit_object("p/", audit.Partition("T", 2026, 1, 2, 3), range(len(lines)), lines)
    body, digest = reference_body(lines)
    assert (obj.body, obj.content_sha256) == (body, digest)
    assert obj.key == f"p/table=T/year=2026/month=01/day=02/hour=03/{digest[:32]}.ndjson.gz"
