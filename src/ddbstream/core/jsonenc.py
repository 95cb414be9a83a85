"""Compact JSON that keeps DynamoDB numbers exact.

``json.dumps`` cannot write a :class:`~decimal.Decimal` as a number. Integral numbers are already
``int`` (exact at any size); a non-integral ``Decimal`` whose value survives a trip through a
float (up to 15 significant digits: nearly all real data) is written through the C encoder as
that float. Only when some value would lose digits does the (slower) pure-Python encoder below
write the whole document, with each such number as its exact decimal text.
"""

from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any


class _Inexact(Exception):
    pass


def _default(o: object) -> object:
    if type(o) is Decimal:
        s = str(o)
        if len(s) <= 15 and "E" not in s:
            # At most 15 significant digits in plain notation: a double holds it exactly
            # enough that its shortest repr has the same decimal value (DBL_DIG = 15).
            return float(s)
        f = float(o)
        if Decimal(repr(f)) == o:
            return f
        raise _Inexact
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


# check_circular=False: decoded items are trees (no cycles), and the check costs ~5%.
_encoder = json.JSONEncoder(
    ensure_ascii=True,
    separators=(",", ":"),
    default=_default,
    allow_nan=False,
    check_circular=False,
)


def _direct_encoder() -> Any:
    """The C encoder without ``JSONEncoder.encode``'s per-call set-up (~10% of a line's cost):
    ``enc(obj, 0)`` gives the chunks of the JSON text (join them), raising ``_Inexact`` where
    a number would lose digits.

    Its constructor is internal to the json module, so it is used only if it is there, takes
    the arguments it takes on Python 3.11-3.13, and encodes a probe exactly as the public API
    does; otherwise ``None`` (and ``JSONEncoder.encode`` is used)."""
    try:
        from json.encoder import c_make_encoder  # type: ignore[attr-defined]

        if c_make_encoder is None:  # pragma: no cover - no C accelerator
            return None
        enc = c_make_encoder(
            None, _default, encode_basestring_ascii, None, ":", ",", False, False, False
        )
        probe = {"a": [1, "\u00e9\u2028", None, True, 1.5, Decimal("0.25")], "b": {}}
        if "".join(enc(probe, 0)) != _encoder.encode(probe):  # pragma: no cover
            return None
        return enc
    except Exception:  # pragma: no cover - a Python whose internals differ
        return None


# For callers on a hot path (audit lines): the C encoder or None. Use it as
# ``"".join(c_encoder(obj, 0))``, falling back to :func:`dumps` on ``_Inexact``.
c_encoder = _direct_encoder()


def _join_c(o: Any) -> str:
    return "".join(c_encoder(o, 0))


_fast = _join_c if c_encoder is not None else _encoder.encode


def dumps(obj: Any) -> str:
    """Compact JSON text of ``obj``: ASCII only (non-ASCII characters are escaped, so no line
    separator such as U+2028 or U+0085 can ever split an NDJSON line), numbers exact."""
    try:
        return _fast(obj)
    except _Inexact:
        parts: list[str] = []
        _slow(obj, parts.append)
        return "".join(parts)


def _slow(o: Any, out: Any) -> None:
    t = type(o)
    if t is str:
        out(encode_basestring_ascii(o))
    elif o is None:
        out("null")
    elif o is True:
        out("true")
    elif o is False:
        out("false")
    elif t is int:
        out(int.__repr__(o))
    elif t is Decimal:
        if not o.is_finite():
            raise ValueError(f"{o} is not a JSON number")
        out(str(o))
    elif t is float:
        out(json.dumps(o, allow_nan=False))
    elif isinstance(o, dict):
        out("{")
        first = True
        for k, v in o.items():
            if not first:
                out(",")
            first = False
            out(encode_basestring_ascii(str(k)))
            out(":")
            _slow(v, out)
        out("}")
    elif isinstance(o, (list, tuple, set, frozenset)):
        out("[")
        for i, v in enumerate(o):
            if i:
                out(",")
            _slow(v, out)
        out("]")
    else:
        _slow(_default(o), out)


def loads(text: str | bytes) -> Any:
    """Parse JSON keeping numbers exact: non-integral numbers become ``Decimal``."""
    return json.loads(text, parse_float=Decimal)
