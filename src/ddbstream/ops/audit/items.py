"""Audit lines read back exactly: parsing, DynamoDB-typed values, item keys, diffs.

Lines are parsed with non-integral numbers as :class:`~decimal.Decimal` (integers are ``int``),
so no digit is lost; ``attribute_types`` (see ``core.decode.attribute_types``) tells binary from
string and sets from lists, so :func:`to_dynamodb` gives back the AttributeValues DynamoDB
stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ddbstream.core.jsonenc import dumps, loads
from ddbstream.errors import UserError


@dataclass(frozen=True, slots=True)
class Change:
    """One parsed audit line."""

    doc: dict[str, Any]
    object_key: str

    @property
    def event_id(self) -> str:
        return str(self.doc["event_id"])

    @property
    def event_name(self) -> str:
        return str(self.doc["event_name"])

    @property
    def table(self) -> str:
        return str(self.doc["table_name"])

    @property
    def keys(self) -> dict[str, Any]:
        return self.doc["keys"]  # type: ignore[no-any-return]

    @property
    def item_key(self) -> str:
        return item_key(self.keys)

    @property
    def sequence_number(self) -> str:
        return str(self.doc["sequence_number"])

    @property
    def order(self) -> tuple[int, str]:
        """Stream order: sequence numbers are decimal integers of varying length."""
        s = self.sequence_number
        return (len(s), s)

    @property
    def event_time(self) -> datetime:
        return parse_line_time(self.doc["event_time"])

    def types(self, image: str) -> dict[str, Any] | None:
        t = self.doc.get("attribute_types")
        return t.get(image) if isinstance(t, dict) else None


def parse_line(line: bytes | str, object_key: str = "") -> Change:
    return Change(loads(line), object_key)


def parse_line_time(text: str) -> datetime:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def item_key(keys: dict[str, Any]) -> str:
    """The key attributes as one canonical text (names sorted, numbers exact)."""
    return dumps({k: keys[k] for k in sorted(keys)})


def first_copies(changes: Iterable[Change]) -> Iterator[Change]:
    """Each event_id once, the first seen kept (feed it oldest object first)."""
    seen: set[str] = set()
    for c in changes:
        if c.event_id not in seen:
            seen.add(c.event_id)
            yield c


# --- DynamoDB-typed values ------------------------------------------------------------------


def number_text(v: int | Decimal) -> str:
    return str(v)


def to_attribute_value(v: Any, t: Any = None) -> dict[str, Any]:
    """A decoded value back to its AttributeValue, ``t`` its entry in attribute_types."""
    if t is not None:
        if t == "B":
            return {"B": v}
        if t == "SS":
            return {"SS": list(v)}
        if t == "NS":
            return {"NS": [number_text(x) for x in v]}
        if t == "BS":
            return {"BS": list(v)}
        if isinstance(t, dict) and "M" in t and isinstance(v, dict):
            inner = t["M"]
            return {"M": {k: to_attribute_value(x, inner.get(k)) for k, x in v.items()}}
        if isinstance(t, dict) and "L" in t and isinstance(v, list):
            inner = t["L"]
            return {"L": [to_attribute_value(x, inner.get(str(i))) for i, x in enumerate(v)]}
    if v is None:
        return {"NULL": True}
    if v is True or v is False:
        return {"BOOL": v}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, (int, Decimal)):
        return {"N": number_text(v)}
    if isinstance(v, dict):
        return {"M": {k: to_attribute_value(x) for k, x in v.items()}}
    if isinstance(v, list):
        return {"L": [to_attribute_value(x) for x in v]}
    raise TypeError(f"not a decoded DynamoDB value: {type(v).__name__}")


def to_dynamodb(image: dict[str, Any], types: dict[str, Any] | None) -> dict[str, Any]:
    """A decoded image to DynamoDB JSON (attribute name -> AttributeValue)."""
    types = types or {}
    return {k: to_attribute_value(v, types.get(k)) for k, v in image.items()}


# --- diffs ------------------------------------------------------------------------------------


def diff(
    old: dict[str, Any] | None, new: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, tuple[Any, Any]]]:
    """Attributes added (name -> new value), removed (name -> old value) and changed
    (name -> (old, new)) from ``old`` to ``new`` (either may be None: nothing)."""
    old = old or {}
    new = new or {}
    added = {k: v for k, v in new.items() if k not in old}
    removed = {k: v for k, v in old.items() if k not in new}
    changed = {k: (old[k], v) for k, v in new.items() if k in old and dumps(old[k]) != dumps(v)}
    return added, removed, changed


# --- times ------------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, what: str, now: datetime | None = None) -> datetime:
    """A moment given on the command line, as an aware UTC datetime: ISO 8601 (a time without
    an offset is UTC), ``now``, epoch seconds, or an age such as ``15m``, ``2h``, ``3d``."""
    now = now or datetime.now(UTC)
    s = text.strip()
    if s.lower() == "now":
        return now
    if s and s[-1] in _UNITS and s[:-1].isdigit():
        return now - timedelta(seconds=int(s[:-1]) * _UNITS[s[-1]])
    try:
        return datetime.fromtimestamp(float(s), tz=UTC)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UserError(
            f"{what} {text!r}: not a time (ISO 8601 such as 2026-11-27T14:00:00Z, epoch "
            "seconds, 'now', or an age such as 15m, 2h, 3d)"
        ) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def read_changes(
    cache: Any, objects: Iterable[Any], prefilter: str | None = None
) -> Iterator[Change]:
    """The parsed lines of ``objects`` (an :class:`~ddbstream.ops.audit.store.AuditCache`'s),
    in the order given; with ``prefilter``, only lines containing that text."""
    for obj in objects:
        for line in cache.read_lines(obj):
            if prefilter is None or prefilter in line:
                yield parse_line(line, obj.key)
