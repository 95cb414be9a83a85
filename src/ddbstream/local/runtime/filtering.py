"""Lambda event filtering (``FilterCriteria``) for stream records.

Lambda uses the rule syntax of EventBridge event patterns. A record is sent to the function
when it matches *any* of the mapping's filters; a record that matches none is skipped and the
checkpoint moves past it (it is never retried). Supported here:

- exact values (strings compared character by character; numbers, booleans and ``null`` by
  their JSON text, so ``300`` and ``300.0`` differ), several values meaning *or*;
- ``{"prefix": ...}``, ``{"suffix": ...}``, ``{"equals-ignore-case": ...}``,
  ``{"wildcard": ...}``;
- ``{"anything-but": value | [values] | {"prefix": ...} | {"suffix": ...}}``;
- ``{"numeric": [op, n, (op, n)]}`` with ``= < <= > >=`` (JSON numbers only, as in
  EventBridge; a DynamoDB ``N`` attribute is a *string* in the record, so ``numeric`` never
  matches it);
- ``{"exists": true|false}``; nested objects (``{"dynamodb": {"NewImage": {...}}}``); arrays in
  the record match when any element matches; ``"$or": [pattern, ...]``.

Everything is plain Python; :func:`matches` is the whole API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

_MISSING = object()


class FilterPatternError(ValueError):
    """A filter pattern is not valid JSON or uses an unknown operator."""


def parse_patterns(filter_criteria: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The mapping's ``FilterCriteria`` as parsed patterns (empty list: no filtering)."""
    if not filter_criteria:
        return []
    patterns = []
    for f in filter_criteria.get("Filters") or []:
        raw = f.get("Pattern")
        if raw is None:
            continue
        try:
            pattern = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as e:
            raise FilterPatternError(f"filter pattern is not valid JSON: {raw!r}") from e
        if not isinstance(pattern, dict):
            raise FilterPatternError(f"filter pattern must be a JSON object: {raw!r}")
        validate(pattern)
        patterns.append(pattern)
    return patterns


_OPERATORS = {
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "numeric",
    "anything-but",
    "exists",
}


def validate(pattern: Mapping[str, Any]) -> None:
    """Raise :class:`FilterPatternError` for a pattern Lambda would refuse."""
    for key, sub in pattern.items():
        if key == "$or":
            if not isinstance(sub, list) or len(sub) < 2:
                raise FilterPatternError('"$or" takes a list of at least two patterns')
            for p in sub:
                if not isinstance(p, dict):
                    raise FilterPatternError('"$or" takes a list of patterns (objects)')
                validate(p)
        elif isinstance(sub, dict):
            validate(sub)
        elif isinstance(sub, list):
            if not sub:
                raise FilterPatternError(f"empty rule list for {key!r}")
            for rule in sub:
                if isinstance(rule, dict):
                    if len(rule) != 1 or next(iter(rule)) not in _OPERATORS:
                        raise FilterPatternError(f"unsupported rule for {key!r}: {rule!r}")
                    ((op, arg),) = rule.items()
                    if op == "numeric":
                        _numeric(arg, 0)
                    if op == "anything-but" and isinstance(arg, dict):
                        _anything_but(arg, None)
                elif isinstance(rule, list):
                    raise FilterPatternError(f"nested lists are not rules: {key!r}")
        else:
            raise FilterPatternError(f"pattern value for {key!r} must be an object or an array")


def matches_any(patterns: Iterable[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """True when there are no patterns or ``record`` matches at least one of them."""
    patterns = list(patterns)
    return not patterns or any(matches(p, record) for p in patterns)


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """True when ``event`` (a JSON-like value) matches the EventBridge-style ``pattern``."""
    for key, sub in pattern.items():
        if key == "$or":
            if not isinstance(sub, list) or not any(matches(p, event) for p in sub):
                return False
            continue
        value = _lookup(event, key)
        if isinstance(sub, dict):
            if not _match_object(sub, value):
                return False
        elif isinstance(sub, list):
            if not _match_leaf(sub, value):
                return False
        else:
            raise FilterPatternError(f"pattern value for {key!r} must be an object or an array")
    return True


def _lookup(event: Any, key: str) -> Any:
    if isinstance(event, dict):
        return event.get(key, _MISSING)
    if isinstance(event, list):
        found = [_lookup(e, key) for e in event]
        found = [f for f in found if f is not _MISSING]
        return found if found else _MISSING
    return _MISSING


def _match_object(sub: Mapping[str, Any], value: Any) -> bool:
    if value is _MISSING or not isinstance(value, (dict, list)):
        # Only "does not exist" rules can match below a missing object.
        return _only_absent_rules(sub) and value is _MISSING
    if isinstance(value, list):
        return any(_match_object(sub, v) for v in value if isinstance(v, dict)) or (
            not value and _only_absent_rules(sub)
        )
    return matches(sub, value)


def _only_absent_rules(sub: Mapping[str, Any]) -> bool:
    for v in sub.values():
        if isinstance(v, dict):
            if not _only_absent_rules(v):
                return False
        elif isinstance(v, list):
            if not any(isinstance(r, dict) and r.get("exists") is False for r in v):
                return False
        else:
            return False
    return True


def _match_leaf(rules: list[Any], value: Any) -> bool:
    if not rules:
        return False
    for rule in rules:
        if isinstance(rule, dict) and "exists" in rule:
            present = value is not _MISSING
            if present == bool(rule["exists"]):
                return True
            continue
        if value is _MISSING:
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(rule, dict):
            if _match_operator(rule, values):
                return True
        elif any(_equal(rule, v) for v in values):
            return True
    return False


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) or isinstance(actual, str):
        return isinstance(expected, str) and isinstance(actual, str) and expected == actual
    if isinstance(actual, (dict, list)):
        return False
    return json.dumps(expected) == json.dumps(actual)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_NUMERIC_OPS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _match_operator(rule: Mapping[str, Any], values: list[Any]) -> bool:
    if len(rule) != 1:
        raise FilterPatternError(f"a rule object must have exactly one operator: {rule!r}")
    ((op, arg),) = rule.items()
    if op == "prefix":
        return any(_string_rule(arg, v, str.startswith) for v in values)
    if op == "suffix":
        return any(_string_rule(arg, v, str.endswith) for v in values)
    if op == "equals-ignore-case":
        return any(isinstance(v, str) and v.casefold() == str(arg).casefold() for v in values)
    if op == "wildcard":
        rx = re.compile("".join(".*" if c == "*" else re.escape(c) for c in str(arg)), re.DOTALL)
        return any(isinstance(v, str) and rx.fullmatch(v) is not None for v in values)
    if op == "numeric":
        return any(_is_number(v) and _numeric(arg, v) for v in values)
    if op == "anything-but":
        return all(_anything_but(arg, v) for v in values)
    raise FilterPatternError(f"unsupported filter operator: {op!r}")


def _string_rule(arg: Any, v: Any, test: Any) -> bool:
    if not isinstance(v, str):
        return False
    if isinstance(arg, dict) and "equals-ignore-case" in arg:
        return bool(test(v.casefold(), str(arg["equals-ignore-case"]).casefold()))
    return isinstance(arg, str) and bool(test(v, arg))


def _numeric(arg: Any, v: float) -> bool:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        raise FilterPatternError(f"numeric rule must be [op, n] or [op, n, op, n]: {arg!r}")
    for i in range(0, len(arg), 2):
        op, bound = arg[i], arg[i + 1]
        if op not in _NUMERIC_OPS or not _is_number(bound):
            raise FilterPatternError(f"bad numeric rule: {arg!r}")
        if not _NUMERIC_OPS[op](v, bound):
            return False
    return True


def _anything_but(arg: Any, v: Any) -> bool:
    if isinstance(arg, dict):
        if "prefix" in arg:
            return not (isinstance(v, str) and v.startswith(str(arg["prefix"])))
        if "suffix" in arg:
            return not (isinstance(v, str) and v.endswith(str(arg["suffix"])))
        if "equals-ignore-case" in arg:
            opts = arg["equals-ignore-case"]
            opts = opts if isinstance(opts, list) else [opts]
            return not (isinstance(v, str) and v.casefold() in {str(o).casefold() for o in opts})
        raise FilterPatternError(f"unsupported anything-but rule: {arg!r}")
    excluded = arg if isinstance(arg, list) else [arg]
    return not any(_equal(e, v) for e in excluded)
