"""Build DynamoDB stream records as Lambda delivers them (for tests, demos and the benchmark).

:func:`encode_item` is the inverse of :func:`ddbstream.core.decode.decode_item`;
:func:`stream_record` wraps images in the record envelope of a given stream view type.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

ACCOUNT = "123456789012"
STREAM_LABEL = "2026-01-01T00:00:00.000"


def encode_value(v: Any) -> dict[str, Any]:
    """Python value -> AttributeValue (``bytes`` become base64 ``B``; sets become SS/NS/BS)."""
    if isinstance(v, bool):
        return {"BOOL": v}
    if v is None:
        return {"NULL": True}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, (int, Decimal)):
        return {"N": str(v)}
    if isinstance(v, float):
        return {"N": repr(v)}
    if isinstance(v, (bytes, bytearray)):
        return {"B": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, Mapping):
        return {"M": {str(k): encode_value(x) for k, x in v.items()}}
    if isinstance(v, (set, frozenset)):
        items = list(v)
        if items and all(isinstance(x, str) for x in items):
            return {"SS": items}
        if items and all(isinstance(x, (bytes, bytearray)) for x in items):
            return {"BS": [base64.b64encode(bytes(x)).decode("ascii") for x in items]}
        if items and all(isinstance(x, (int, Decimal)) and not isinstance(x, bool) for x in items):
            return {"NS": [str(x) for x in items]}
        raise TypeError("a set must be non-empty and hold only strings, numbers or bytes")
    if isinstance(v, (list, tuple)):
        return {"L": [encode_value(x) for x in v]}
    raise TypeError(f"cannot encode {type(v).__name__} as a DynamoDB value")


def encode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: encode_value(v) for k, v in item.items()}


def stream_arn(table: str = "UserActivities", region: str = "us-east-1") -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}/stream/{STREAM_LABEL}"


def stream_record(
    event_name: str,
    keys: Mapping[str, Any],
    new: Mapping[str, Any] | None = None,
    old: Mapping[str, Any] | None = None,
    *,
    seq: int | str = 100,
    ts: int | float = 1_764_064_800,  # 2025-11-25T10:00:00Z
    table: str = "UserActivities",
    view: str = "NEW_AND_OLD_IMAGES",
    ttl: bool = False,
    region: str = "us-east-1",
    encoded: bool = False,
) -> dict[str, Any]:
    """One stream record. Images are Python values (``encoded=True``: already AttributeValues).

    The view type decides which images the record carries, as DynamoDB does.
    """
    enc = (lambda m: dict(m)) if encoded else encode_item
    seq_text = str(seq).zfill(21) if isinstance(seq, int) else seq
    ddb: dict[str, Any] = {
        "ApproximateCreationDateTime": ts,
        "Keys": enc(keys),
        "SequenceNumber": seq_text,
        "StreamViewType": view,
    }
    if new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        ddb["NewImage"] = enc(new)
    if old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        ddb["OldImage"] = enc(old)
    ddb["SizeBytes"] = 26 + len(str(ddb.get("NewImage", ""))) + len(str(ddb.get("OldImage", "")))
    rec: dict[str, Any] = {
        "eventID": hashlib.md5(f"{table}:{seq_text}".encode(), usedforsecurity=False).hexdigest(),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": ddb,
        "eventSourceARN": stream_arn(table, region),
    }
    if ttl:
        rec["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return rec


def activity(
    user: str, n: int, activity_type: str = "LOGIN", ts: int = 1_764_064_800
) -> dict[str, Any]:
    """An item shaped like the seed's UserActivities test data."""
    return {
        "UserId": user,
        "ActivityId": f"{activity_type.lower()}-{n:03d}",
        "ActivityType": activity_type,
        "Timestamp": ts,
        "IPAddress": f"192.168.1.{100 + n % 100}",
        "UserAgent": "Mozilla/5.0",
    }
