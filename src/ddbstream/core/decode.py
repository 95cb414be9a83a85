"""Decode a DynamoDB Streams record (as Lambda delivers it) into a :class:`ChangeEvent`.

Values become plain JSON-able Python values that keep their exact meaning:

======================  ==================================================================
DynamoDB type           Python value
======================  ==================================================================
``S``                   ``str``
``N``                   ``int`` when integral, else :class:`decimal.Decimal` (exact, no float)
``B``                   ``str``: the base64 text (validated)
``BOOL``                ``bool``
``NULL``                ``None``
``M`` / ``L``           ``dict`` / ``list``, decoded recursively
``SS`` / ``NS`` / ``BS``  ``list``, sorted (strings; numerically; by the decoded bytes)
======================  ==================================================================

Four of these types share their Python (and JSON) value with another one: ``B`` looks like
``S``, and the sets look like lists. So that a reader can rebuild the exact DynamoDB item (the
audit log's ``as-of``), :attr:`ChangeEvent.types` names them: see :func:`attribute_types`.

The decoder is a hand-written type dispatch (no ``TypeDeserializer``): it is the hot loop of
every batch. Anything that is not a well-formed record raises :class:`DecodeError`, which the
pipeline turns into a quarantine object.
"""

from __future__ import annotations

import binascii
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
TTL_PRINCIPAL = "dynamodb.amazonaws.com"

# JSON value types an item decodes to.
JSONValue = Any


class DecodeError(ValueError):
    """The record is not a well-formed DynamoDB stream record (a poison record)."""


@dataclass(slots=True)
class ChangeEvent:
    """One decoded change. ``added``/``removed``/``changed`` are set for a MODIFY whose record
    carries both images (sorted attribute names), and are ``None`` otherwise.

    Treat it as immutable (it is not frozen only because a frozen dataclass is several times
    slower to construct, and one is built per change)."""

    event_id: str
    event_name: str
    table_name: str
    keys: dict[str, JSONValue]
    new_image: dict[str, JSONValue] | None
    old_image: dict[str, JSONValue] | None
    sequence_number: str
    event_time: datetime
    #: None when the record carries no ApproximateCreationDateTime (event_time: its arrival)
    approximate_creation_time: int | float | None
    size_bytes: int | None
    stream_view_type: str | None
    ttl_expiry: bool
    aws_region: str | None = None
    added: tuple[str, ...] | None = None
    removed: tuple[str, ...] | None = None
    changed: tuple[str, ...] | None = None
    #: A partially decodable change: ``"old_image.Attr"`` (or ``"new_image"`` for a whole
    #: image) -> why it could not be decoded; those attributes are left out of the images and
    #: of the diff. None for a change decoded whole (the usual case).
    undecodable: dict[str, str] | None = None
    # Where the keys or images hold a B, SS, NS or BS value (else None): see attribute_types.
    types: dict[str, Any] | None = None


# --- values -------------------------------------------------------------------------------

# Counts the B / SS / NS / BS values decoded. decode_record compares it before and after a
# record: the type walk (attribute_types) runs only for the records that hold one, so the
# common record pays two global reads and nothing else. _typed_names collects the top-level
# attributes whose decoding moved the counter (nested ones' names get in too and are ignored),
# so the walk visits those attributes only, not every attribute of every image. Module state:
# records are decoded one at a time (the handler is single-threaded).
_typed_seen = 0
_typed_names: list[str] = []

_NUMBER_RE = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def decode_number(text: object) -> int | Decimal:
    """DynamoDB number text -> ``int`` (integral) or exact ``Decimal``."""
    if type(text) is not str:
        raise DecodeError(f"N value must be a string, got {type(text).__name__}")
    if text.isascii():
        if text.isdigit() or (text[:1] == "-" and text[1:].isdigit()):
            return int(text)
        head, dot, tail = text.partition(".")
        if (
            dot and tail.isdigit() and (head.isdigit() or (head[:1] == "-" and head[1:].isdigit()))
        ):  # plain decimal notation: the common non-integer case, no regex needed
            if not tail.strip("0"):
                return int(head)
            return Decimal(text)
    if not _NUMBER_RE.fullmatch(text):
        raise DecodeError(f"N value {text[:60]!r} is not a number")
    try:
        d = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid text
        raise DecodeError(f"N value {text[:60]!r} is not a number") from exc
    if d == d.to_integral_value():
        return int(d)
    return d


def _binary(text: object) -> str:
    global _typed_seen
    _typed_seen += 1
    if type(text) is not str:
        raise DecodeError(f"B value must be base64 text, got {type(text).__name__}")
    try:
        binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"B value is not valid base64: {exc}") from exc
    return text


def _binary_sort_key(text: str) -> bytes:
    return binascii.a2b_base64(text)


def _s(v: object) -> str:
    if type(v) is not str:
        raise DecodeError(f"S value must be a string, got {type(v).__name__}")
    return v


def _bool(v: object) -> bool:
    if type(v) is not bool:
        raise DecodeError(f"BOOL value must be true or false, got {v!r:.60}")
    return v


def _null(v: object) -> None:
    if v is not True:
        raise DecodeError(f"NULL value must be true, got {v!r:.60}")
    return None


def _map(v: object) -> dict[str, JSONValue]:
    if type(v) is not dict:
        raise DecodeError(f"M value must be an object, got {type(v).__name__}")
    return _decode_attrs(v)


def _list(v: object) -> list[JSONValue]:
    if type(v) is not list:
        raise DecodeError(f"L value must be an array, got {type(v).__name__}")
    return [decode_value(x) for x in v]


def _ss(v: object) -> list[str]:
    global _typed_seen
    _typed_seen += 1
    if type(v) is not list:
        raise DecodeError(f"SS value must be an array, got {type(v).__name__}")
    for x in v:
        if type(x) is not str:
            raise DecodeError(f"SS element must be a string, got {type(x).__name__}")
    return sorted(v)


def _ns(v: object) -> list[int | Decimal]:
    global _typed_seen
    _typed_seen += 1
    if type(v) is not list:
        raise DecodeError(f"NS value must be an array, got {type(v).__name__}")
    return sorted(decode_number(x) for x in v)


def _bs(v: object) -> list[str]:
    global _typed_seen
    _typed_seen += 1
    if type(v) is not list:
        raise DecodeError(f"BS value must be an array, got {type(v).__name__}")
    return sorted((_binary(x) for x in v), key=_binary_sort_key)


_DISPATCH = {
    "S": _s,
    "N": decode_number,
    "B": _binary,
    "BOOL": _bool,
    "NULL": _null,
    "M": _map,
    "L": _list,
    "SS": _ss,
    "NS": _ns,
    "BS": _bs,
}


def decode_value(av: object) -> JSONValue:
    """Decode one AttributeValue (``{"S": "x"}``, ``{"M": {...}}``, ...)."""
    if type(av) is not dict or len(av) != 1:
        raise DecodeError(f"attribute value must be an object with one type key, got {av!r:.80}")
    # S and N are by far the most common: test for them before the dispatch.
    v = av.get("S")
    if v is not None:
        if type(v) is str:
            return v
        raise DecodeError(f"S value must be a string, got {type(v).__name__}")
    v = av.get("N")
    if v is not None:
        return decode_number(v)
    for tag, v in av.items():
        fn = _DISPATCH.get(tag)
        if fn is None:
            raise DecodeError(f"unknown attribute type {tag!r:.40}")
        return fn(v)
    raise AssertionError("unreachable")  # pragma: no cover


def _decode_attrs(item: dict[str, Any]) -> dict[str, JSONValue]:
    out: dict[str, JSONValue] = {}
    for k, av in item.items():
        # Inline fast paths for the commonest values (a string, a plain integer), then the
        # dispatch; anything malformed ends in decode_value, which names the problem.
        if type(av) is dict and len(av) == 1:
            v = av.get("S")
            if type(v) is str:
                out[k] = v
                continue
            v = av.get("N")
            if v is not None:
                out[k] = (
                    int(v) if type(v) is str and v.isdigit() and v.isascii() else decode_number(v)
                )
                continue
            tag = next(iter(av))
            fn = _DISPATCH.get(tag)
            if fn is not None:
                seen = _typed_seen
                out[k] = fn(av[tag])
                if _typed_seen != seen:
                    _typed_names.append(k)
                continue
        out[k] = decode_value(av)
    return out


class _NotAnObject(DecodeError):
    def __init__(self, v: object) -> None:
        super().__init__(type(v).__name__)


def decode_item(item: object, what: str = "item") -> dict[str, JSONValue]:
    """Decode a whole item (attribute name -> AttributeValue)."""
    if type(item) is not dict:
        raise DecodeError(f"{what} must be an object, got {type(item).__name__}")
    try:
        return _decode_attrs(item)
    except DecodeError as exc:
        raise DecodeError(f"{what}: {exc}") from None


# --- types the JSON value does not tell --------------------------------------------------

_HIDDEN_TAGS = frozenset(("B", "SS", "NS", "BS"))


def _types_in(item: dict[str, Any]) -> dict[str, Any]:
    # Strings and numbers (nearly every attribute) are skipped by one comprehension; this runs
    # for every record holding a set or a binary value, which in some tables is every record.
    out: dict[str, Any] = {}
    rest = [
        kv for kv in item.items() if type(kv[1]) is not dict or not ("S" in kv[1] or "N" in kv[1])
    ]
    for k, av in rest:
        if type(av) is not dict or len(av) != 1:
            continue  # an undecodable value of a partially decoded change: not in the image
        for tag, v in av.items():  # the one type key
            if tag in _HIDDEN_TAGS:
                out[k] = tag
            elif tag == "M" and type(v) is dict:
                inner = _types_in(v)
                if inner:
                    out[k] = {"M": inner}
            elif tag == "L" and type(v) is list:
                inner = _types_in({str(i): x for i, x in enumerate(v)})
                if inner:
                    out[k] = {"L": inner}
    return out


def attribute_types(
    keys: dict[str, Any] | None,
    new: dict[str, Any] | None,
    old: dict[str, Any] | None,
    names: Iterable[str] | None = None,
) -> dict[str, Any] | None:
    """The DynamoDB types that the decoded values do not show, from a record's (already
    validated) AttributeValues: ``{"keys"|"new_image"|"old_image": {attribute: T}}`` where
    ``T`` is ``"B"``, ``"SS"``, ``"NS"`` or ``"BS"``, or, for a map or list holding such a value
    somewhere inside, ``{"M": {name: T}}`` / ``{"L": {"index": T}}``. Everything not named is
    what its JSON value says: string ``S``, number ``N``, boolean ``BOOL``, null ``NULL``, object
    ``M``, array ``L``. ``None`` when there is nothing to name (most records). ``names``: the
    only attributes to look at (decode_record knows which ones decoded such a value)."""
    out: dict[str, Any] = {}
    for name, image in (("keys", keys), ("new_image", new), ("old_image", old)):
        if type(image) is not dict:
            continue
        if names is None:
            found = _types_in(image)
        else:  # only these attributes can hold such a value
            found = {k: t for k in names if k in image and (t := _types_in({k: image[k]}).get(k))}
        if found:
            out[name] = found
    return out or None


# --- records ------------------------------------------------------------------------------


_table_cache: dict[str, str] = {}


def table_from_arn(arn: object) -> str:
    """``arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL`` -> ``NAME``."""
    if type(arn) is not str:
        raise DecodeError("eventSourceARN is missing")
    name = _table_cache.get(arn)
    if name is not None:
        return name
    _, sep, rest = arn.partition(":table/")
    name = rest.split("/", 1)[0]
    if not sep or not arn.startswith("arn:") or not name:
        raise DecodeError(f"eventSourceARN {arn[:120]!r} does not name a table")
    if len(_table_cache) > 256:
        _table_cache.clear()
    _table_cache[arn] = name
    return name


def _decode_against(
    raw_new: dict[str, Any], raw_old: dict[str, Any], old: dict[str, JSONValue]
) -> tuple[dict[str, JSONValue], tuple[str, ...]]:
    """Decode a MODIFY's new image, reusing the old image's decoded value wherever the raw
    AttributeValues are equal (a C-level comparison, type tags included: unchanged), and
    return it with the sorted names of the attributes whose values changed."""
    out: dict[str, JSONValue] = {}
    changed: list[str] = []
    try:
        for k, av in raw_new.items():
            rav = raw_old.get(k)
            if rav is not None and rav == av:
                out[k] = old[k]
                continue
            seen = _typed_seen
            v = decode_value(av)
            if _typed_seen != seen:
                _typed_names.append(k)
            out[k] = v
            if rav is not None and not _same(old[k], v):
                changed.append(k)
    except DecodeError as exc:
        raise DecodeError(f"dynamodb.NewImage: {exc}") from None
    changed.sort()
    return out, tuple(changed)


def _decode_partially(
    event_name: str, raw_old: object, raw_new: object
) -> tuple[
    dict[str, JSONValue] | None,
    dict[str, JSONValue] | None,
    tuple[str, ...] | None,
    tuple[str, ...] | None,
    tuple[str, ...] | None,
    dict[str, str],
]:
    """The images attribute by attribute, leaving out what does not decode; the diff of a
    MODIFY over the attributes that decoded on both sides. Returns (old, new, added, removed,
    changed, undecodable)."""
    bad: dict[str, str] = {}
    old = _decode_image_partially(raw_old, "old_image", bad)
    new = _decode_image_partially(raw_new, "new_image", bad)
    added = removed = changed = None
    if event_name == "MODIFY" and old is not None and new is not None:
        unknown = {name.split(".", 1)[1] for name in bad if "." in name}
        added, removed, changed = diff_images(
            {k: v for k, v in old.items() if k not in unknown},
            {k: v for k, v in new.items() if k not in unknown},
        )
    return old, new, added, removed, changed, bad


def _decode_image_partially(
    raw: object, field: str, bad: dict[str, str]
) -> dict[str, JSONValue] | None:
    if raw is None:
        return None
    if type(raw) is not dict:
        bad[field] = f"must be an object, got {type(raw).__name__}"
        return None
    out: dict[str, JSONValue] = {}
    for name, av in raw.items():
        try:
            out[name] = decode_value(av)
        except DecodeError as exc:
            bad[f"{field}.{name}"] = str(exc)
    return out


def is_ttl_expiry(record: Mapping[str, Any]) -> bool:
    """True for a REMOVE made by DynamoDB's Time to Live process."""
    uid = record.get("userIdentity")
    return (
        type(uid) is dict
        and uid.get("type") == "Service"
        and uid.get("principalId") == TTL_PRINCIPAL
        and record.get("eventName") == "REMOVE"
    )


def diff_images(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    raw_old: Mapping[str, Any] | None = None,
    raw_new: Mapping[str, Any] | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Attribute names added, removed and changed between two decoded images (each sorted).

    With the raw images (AttributeValues) given, an attribute whose raw values are equal is
    unchanged without comparing decoded values (a C-level comparison, type tags included);
    otherwise the decoded values decide (set order and number spelling do not count)."""
    added = tuple(sorted(k for k in new if k not in old))
    removed = tuple(sorted(k for k in old if k not in new))
    if raw_old is not None and raw_new is not None:
        changed = tuple(
            sorted(
                k
                for k, v in new.items()
                if k in old and raw_old.get(k) != raw_new.get(k) and not _same(old[k], v)
            )
        )
    else:
        changed = tuple(sorted(k for k, v in new.items() if k in old and not _same(old[k], v)))
    return added, removed, changed


def _same(a: Any, b: Any) -> bool:
    # bool is an int in Python (True == 1): compare type-strictly for it.
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if type(a) is dict and type(b) is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if type(a) is list and type(b) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) in (dict, list) or type(b) in (dict, list):
        return False
    return bool(a == b)


_time_cache: dict[int | float, datetime] = {}


def _event_time(ts: object) -> datetime:
    if type(ts) not in (int, float) or ts != ts or ts < 0 or ts > 32503680000:  # NaN; year 3000
        raise DecodeError(f"ApproximateCreationDateTime {ts!r:.40} is not epoch seconds")
    dt = _time_cache.get(ts)  # type: ignore[arg-type]
    if dt is None:
        if len(_time_cache) > 4096:
            _time_cache.clear()
        dt = _time_cache[ts] = datetime.fromtimestamp(ts, tz=UTC)  # type: ignore[arg-type]
    return dt


def decode_record(record: object, received_at: float | None = None) -> ChangeEvent:
    """Decode one stream record; raises :class:`DecodeError` for a poison record.

    A record without ``dynamodb.ApproximateCreationDateTime`` (AWS's own sample events, such
    as the Lambda console's DynamoDB test event, omit it) is not poison: its event time is
    ``received_at`` (whole seconds; now if not given), the time its batch arrived, and its
    ``approximate_creation_time`` is ``None`` (``null`` in the audit line), which says that
    the creation time is missing. A value that is present but not epoch seconds stays poison.
    """
    # The cache look-ups of table_from_arn and _event_time and the body of decode_item are
    # inlined (same checks, same messages): a function call each saved, once per change.
    if type(record) is not dict:
        raise DecodeError(f"record must be an object, got {type(record).__name__}")
    typed_before = _typed_seen
    if _typed_names:
        _typed_names.clear()
    event_name = record.get("eventName")
    if event_name not in EVENT_NAMES:
        raise DecodeError(f"eventName {event_name!r:.40} is not INSERT, MODIFY or REMOVE")
    ddb = record.get("dynamodb")
    if type(ddb) is not dict:
        raise DecodeError("record has no 'dynamodb' object")
    seq = ddb.get("SequenceNumber")
    if type(seq) is not str or not seq:
        raise DecodeError("dynamodb.SequenceNumber is missing")
    arn = record.get("eventSourceARN")
    table = _table_cache.get(arn) if type(arn) is str else None
    if table is None:
        table = table_from_arn(arn)
    ts = ddb.get("ApproximateCreationDateTime")
    event_time = _time_cache.get(ts) if type(ts) is int else None
    if event_time is None:
        if ts is None:  # no creation time: the time the batch arrived
            event_time = _event_time(int(time.time() if received_at is None else received_at))
        else:
            event_time = _event_time(ts)
    view = ddb.get("StreamViewType")
    if view is not None and view not in VIEW_TYPES:
        raise DecodeError(f"dynamodb.StreamViewType {view!r:.40} is not a stream view type")
    raw_keys = ddb.get("Keys")
    raw_new = ddb.get("NewImage")
    raw_old = ddb.get("OldImage")
    # decode_item inlined: same checks in the same order, same messages
    what = "dynamodb.Keys"
    keys = None
    undecodable = None
    try:
        if type(raw_keys) is not dict:
            raise _NotAnObject(raw_keys)
        keys = _decode_attrs(raw_keys)
        old = new = added = removed = changed = None
        if raw_old is not None:
            what = "dynamodb.OldImage"
            if type(raw_old) is not dict:
                raise _NotAnObject(raw_old)
            old = _decode_attrs(raw_old)
        if event_name == "MODIFY" and old is not None and type(raw_new) is dict:
            # decode the new image and diff it against the old one in one pass
            what = ""  # _decode_against names the image in its errors
            new, changed = _decode_against(raw_new, raw_old, old)  # type: ignore[arg-type]
            if new.keys() == old.keys():  # the usual MODIFY: no attribute added or removed
                added = removed = ()
            else:
                added = tuple(sorted(new.keys() - old.keys()))
                removed = tuple(sorted(old.keys() - new.keys()))
        elif raw_new is not None:
            what = "dynamodb.NewImage"
            if type(raw_new) is not dict:
                raise _NotAnObject(raw_new)
            new = _decode_attrs(raw_new)
    except DecodeError as exc:
        if keys is None:  # the keys (or the envelope) are unusable: poison
            if isinstance(exc, _NotAnObject):
                raise DecodeError(f"{what} must be an object, got {exc}") from None
            raise DecodeError(f"{what}: {exc}" if what else str(exc)) from None
        # An image holds something undecodable: the change is audited with what decodes.
        old, new, added, removed, changed, undecodable = _decode_partially(
            event_name, raw_old, raw_new
        )
    size = ddb.get("SizeBytes")
    if size is not None and type(size) is not int:
        raise DecodeError(f"dynamodb.SizeBytes {size!r:.40} is not an integer")
    event_id = record.get("eventID")
    if event_id is not None and type(event_id) is not str:
        raise DecodeError("eventID is not a string")
    region = record.get("awsRegion")
    uid = record.get("userIdentity")
    ttl = uid is not None and is_ttl_expiry(record)
    # positional: measurably faster than 16 keyword arguments, once per change
    return ChangeEvent(
        event_id or seq,
        event_name,
        table,
        keys,
        new,
        old,
        seq,
        event_time,
        ts,  # type: ignore[arg-type]
        size,
        view,
        ttl,
        region if type(region) is str else None,
        added,
        removed,
        changed,
        undecodable,
        None
        if _typed_seen == typed_before
        else attribute_types(
            raw_keys,
            raw_new,
            raw_old,
            # a partially decoded change took another path: look at every attribute
            None if undecodable else _typed_names,
        ),
    )
