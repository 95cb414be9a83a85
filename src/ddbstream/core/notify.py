"""Notification messages for SNS: subject, JSON body, message attributes; PublishBatch chunks.

Subjects follow the seed ("DynamoDB Activity: New Record Created", "... Record Modified",
"... Record Removed"; a Time to Live deletion is "... Record Expired (TTL)"), always at most 100
printable ASCII characters, as SNS requires.

The body is the change's audit line itself (the same JSON object, same fields, as in the audit
log). If that would not fit in an SNS message, the images are left out and ``images_omitted`` is
true (the audit log has them). The names of the rules that matched are in the ``rules``
attribute.

Message attributes, for SNS subscription filter policies:

* ``eventName`` (String): INSERT / MODIFY / REMOVE
* ``tableName`` (String)
* ``ttlExpiry`` (String): "true" / "false"
* ``rules`` (String.Array): names of the matching rules
* each configured item attribute (``NOTIFICATION_ATTRIBUTES``, default ActivityType, UserId)
  present with a scalar value in the new image (else the old image, else the keys): strings as
  String, numbers as Number, booleans as String "true"/"false", lists of scalars as String.Array.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ddbstream.core.audit import event_to_dict
from ddbstream.core.decode import ChangeEvent
from ddbstream.core.jsonenc import dumps

SUBJECT_MAX = 100
MAX_BATCH_ENTRIES = 10  # SNS PublishBatch
MAX_BATCH_BYTES = 256 * 1024  # SNS PublishBatch: all messages together
MAX_ATTRIBUTES = 10  # SNS -> SQS delivery carries at most 10 message attributes
BODY_LIMIT = 200 * 1024  # leaves room for subject and attributes within 256 KiB

SUBJECTS = {
    "INSERT": "DynamoDB Activity: New Record Created",
    "MODIFY": "DynamoDB Activity: Record Modified",
    "REMOVE": "DynamoDB Activity: Record Removed",
}
TTL_SUBJECT = "DynamoDB Activity: Record Expired (TTL)"

_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,256}")
MAX_ATTR_VALUE = 1024  # characters; attributes are for filter policies, the body has the rest
# Characters SNS does not accept in attribute values (XML 1.0's excluded ranges).
_BAD_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_RESERVED = ("eventName", "tableName", "ttlExpiry", "rules")


@dataclass(slots=True)
class Notification:
    """One SNS message. ``index`` is the batch record it reports. (Not frozen: one is built
    per change, and frozen dataclasses are slow to construct; treat it as immutable.)"""

    index: int
    subject: str
    message: str
    attributes: dict[str, dict[str, str]]
    group_id: str | None = None  # FIFO topics only
    dedup_id: str | None = None

    def size(self) -> int:
        n = len(self.message) + len(self.subject)  # both ASCII: characters are bytes
        for name, a in self.attributes.items():
            n += len(name) + len(a["DataType"]) + len(a["StringValue"].encode("utf-8"))
        return n


def subject_for(ev: ChangeEvent) -> str:
    return TTL_SUBJECT if ev.ttl_expiry else SUBJECTS[ev.event_name]


def clean_subject(s: str) -> str:
    """Printable ASCII, one line, at most 100 characters (SNS's rules for subjects)."""
    s = "".join(c if " " <= c <= "~" else " " for c in s).strip()
    if len(s) > SUBJECT_MAX:
        s = s[: SUBJECT_MAX - 3].rstrip() + "..."
    return s or "DynamoDB Activity"


def _attr_value(v: Any) -> dict[str, str] | None:
    """An SNS attribute for an item value, or None when it cannot (or should not) be one: maps,
    empty strings, values over 1 KiB, characters SNS rejects. A value SNS rejects would fail
    the whole PublishBatch call on every retry, so it is left out rather than sent."""
    t = type(v)
    if t is str:
        if not v or len(v) > MAX_ATTR_VALUE or _BAD_CHARS.search(v):
            return None
        return {"DataType": "String", "StringValue": v}
    if t is bool:
        return {"DataType": "String", "StringValue": "true" if v else "false"}
    if t is int or t is Decimal:
        text = str(v)
        return {"DataType": "Number", "StringValue": text} if len(text) <= 64 else None
    if t is list and v and all(type(x) in (str, int, Decimal, bool) for x in v):
        text = dumps(v)  # ASCII JSON: every character is acceptable to SNS
        return (
            {"DataType": "String.Array", "StringValue": text}
            if len(text) <= MAX_ATTR_VALUE
            else None
        )
    return None


_attr_cache: dict[str, dict[str, str]] = {}


def _string_attr(value: str) -> dict[str, str]:
    """A String attribute; shared (read-only) dicts for the few values that repeat."""
    a = _attr_cache.get(value)
    if a is None:
        if len(_attr_cache) > 256:
            _attr_cache.clear()
        a = _attr_cache[value] = {"DataType": "String", "StringValue": value}
    return a


_usable_cache: dict[tuple[str, ...], tuple[str, ...]] = {}


def _usable_names(names: Sequence[str]) -> tuple[str, ...]:
    """The configured names that can be SNS attribute names and are not ddbstream's own."""
    key = tuple(names)
    usable = _usable_cache.get(key)
    if usable is None:
        usable = tuple(n for n in key if n not in _RESERVED and _ATTR_NAME_RE.fullmatch(n))
        _usable_cache[key] = usable
    return usable


_names_cache: dict[tuple[str, ...], str] = {}


def _names_json(rules: Sequence[str]) -> str:
    key = tuple(rules)
    s = _names_cache.get(key)
    if s is None:
        if len(_names_cache) > 256:
            _names_cache.clear()
        s = _names_cache[key] = dumps(list(key))
    return s


def message_attributes(
    ev: ChangeEvent, attribute_names: Sequence[str], rules: Sequence[str]
) -> dict[str, dict[str, str]]:
    attrs: dict[str, dict[str, str]] = {
        "eventName": _string_attr(ev.event_name),
        "tableName": _string_attr(ev.table_name),
        "ttlExpiry": _string_attr("true" if ev.ttl_expiry else "false"),
    }
    if rules:
        attrs["rules"] = {"DataType": "String.Array", "StringValue": _names_json(rules)}
    for name in _usable_names(attribute_names):
        if len(attrs) >= MAX_ATTRIBUTES:
            break
        for image in (ev.new_image, ev.old_image, ev.keys):
            if image is not None and name in image:
                a = _attr_value(image[name])
                if a is not None:
                    attrs[name] = a
                break
    return attrs


def build_notification(
    index: int,
    ev: ChangeEvent,
    rules: Sequence[str],
    attribute_names: Sequence[str],
    line: str | None = None,
    fifo: bool = False,
) -> Notification:
    """The message for one change. ``line`` is its audit line, reused for the body if given."""
    message = line if line is not None else dumps(event_to_dict(ev))
    if len(message) > BODY_LIMIT:  # ASCII: characters are bytes
        d = event_to_dict(ev)
        d["new_image"] = d["old_image"] = None
        d["images_omitted"] = True
        message = dumps(d)
        if len(message) > BODY_LIMIT:  # enormous keys: keep only the essentials
            message = dumps(
                {k: d[k] for k in ("event_id", "event_name", "table_name", "sequence_number")}
                | {"images_omitted": True, "keys_omitted": True}
            )
    group_id = dedup_id = None
    if fifo:
        # Changes of one item stay in order; retried changes are deduplicated by SNS.
        group_id = hashlib.sha256(f"{ev.table_name}\n{dumps(ev.keys)}".encode()).hexdigest()[:64]
        dedup_id = hashlib.sha256(ev.event_id.encode()).hexdigest()[:64]
    return Notification(
        index=index,
        subject=subject_for(ev),
        message=message,
        attributes=message_attributes(ev, attribute_names, rules),
        group_id=group_id,
        dedup_id=dedup_id,
    )


def chunk_notifications(items: Iterable[Notification]) -> Iterator[list[Notification]]:
    """Split into PublishBatch calls: at most 10 entries and 256 KiB per call, order kept."""
    chunk: list[Notification] = []
    size = 0
    for n in items:
        s = n.size()
        if chunk and (len(chunk) >= MAX_BATCH_ENTRIES or size + s > MAX_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(n)
        size += s
    if chunk:
        yield chunk
