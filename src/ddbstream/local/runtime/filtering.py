"""Lambda event filtering (``FilterCriteria``) for stream records.

Lambda uses the rule syntax of EventBridge event patterns. A record is sent to the function
when it matches *any* of the mapping's filters; a record that matches none is skipped and the
checkpoint moves past it (it is never retried). Supported here:

- exact values (strings compared character by character; numbers, booleans and ``null`` by
  their JSON text, so ``300`` and ``300.0`` differ), several values meaning *or*; ``[null]``
  and ``[""]`` match a null and an empty string;
- ``{"prefix": ...}``, ``{"suffix": ...}`` (a string, or ``{"equals-ignore-case": ...}``),
  ``{"equals-ignore-case": ...}``, ``{"wildcard": ...}`` (``*`` any run of characters,
  ``\\*`` a literal star; ``**`` refused): strings only;
- ``{"anything-but": value | [values] | {"prefix" | "suffix" | "equals-ignore-case" |
  "wildcard": ...}}``: the field must hold a value (a missing field matches nothing);
- ``{"numeric": [op, n, (op, n)]}`` with ``= < <= > >=`` (JSON numbers only, as in
  EventBridge; a DynamoDB ``N`` attribute is a *string* in the record, ``{"N": "42"}``, so
  ``numeric`` never matches it: filter ``N`` values by their text);
- ``{"exists": true|false}`` on *leaf* values only: an object (a DynamoDB attribute such as
  ``"status": {"S": "x"}``) is an intermediate node, so ``"status": [{"exists": true}]``
  does not match it and ``false`` does; write ``"status": {"S": [{"exists": true}]}``;
- nested objects (``{"dynamodb": {"NewImage": {...}}}``); arrays in the record are crushed
  out: a rule matches when any element matches, and the fields of one nested pattern must
  come from the same element; ``"$or": [pattern, pattern, ...]`` (two at least).

These are the rules of EventBridge's matcher (Event Ruler), which Lambda documents that its
filtering shares ("Filter rule syntax"). Checked against the Lambda Developer Guide,
"Lambda event filtering" and "Using event filtering with a DynamoDB event source" (the Exists
operator works on leaf nodes only), and Event Ruler's README. At most five filters per mapping
(:data:`MAX_FILTERS`; Lambda's default quota) are checked where mappings are created.

Everything is plain Python; :func:`matches` is the whole API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

_MISSING = object()

#: Filters per event source mapping: Lambda's default quota ("Lambda event filtering").
MAX_FILTERS = 5


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
                    _validate_operator(key, op, arg)
                elif isinstance(rule, list):
                    raise FilterPatternError(f"nested lists are not rules: {key!r}")
        else:
            raise FilterPatternError(f"pattern value for {key!r} must be an object or an array")


def _validate_operator(key: str, op: str, arg: Any) -> None:
    def bad(why: str) -> FilterPatternError:
        return FilterPatternError(f"{op} rule for {key!r} {why}: {arg!r}")

    if op in ("prefix", "suffix"):
        if isinstance(arg, dict):
            if set(arg) != {"equals-ignore-case"} or not isinstance(arg["equals-ignore-case"], str):
                raise bad("takes a string or {equals-ignore-case: string}")
        elif not isinstance(arg, str):
            raise bad("takes a string")
    elif op == "equals-ignore-case":
        if not isinstance(arg, str):
            raise bad("takes a string")
    elif op == "wildcard":
        _wildcard_regex(arg)
    elif op == "exists":
        if not isinstance(arg, bool):
            raise bad("takes true or false")
    elif op == "numeric":
        _numeric(arg, 0)
    elif op == "anything-but":
        if isinstance(arg, dict):
            if len(arg) != 1 or next(iter(arg)) not in _ANYTHING_BUT_FORMS:
                raise bad("takes a value, a list, or one of " + ", ".join(_ANYTHING_BUT_FORMS))
            ((form, inner),) = arg.items()
            if form == "wildcard":
                _wildcard_regex(inner)
            elif form == "equals-ignore-case":
                items = inner if isinstance(inner, list) else [inner]
                if not items or not all(isinstance(i, str) for i in items):
                    raise bad("equals-ignore-case takes strings")
            elif not isinstance(inner, str):
                raise bad(f"{form} takes a string")
        else:
            items = arg if isinstance(arg, list) else [arg]
            strings = all(isinstance(i, str) for i in items)
            numbers = all(_is_number(i) for i in items)
            if not items or not (strings or numbers):
                raise bad("takes strings only or numbers only")


_ANYTHING_BUT_FORMS = ("prefix", "suffix", "equals-ignore-case", "wildcard")


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


def _flat(value: Any) -> list[Any]:
    """Arrays are "crushed out": the elements of (nested) arrays, in order."""
    if isinstance(value, list):
        return [v for item in value for v in _flat(item)]
    return [value]


def _leaves(value: Any) -> list[Any]:
    """The leaf values at a path: strings, numbers, booleans, null (also inside arrays).

    An object is an intermediate node, not a value: rules (``exists`` included) see only
    leaves, as in EventBridge's matcher (Event Ruler: "Exists match only works on the leaf
    nodes"), which Lambda's filtering uses. So ``{"status": [{"exists": true}]}`` does not
    match a DynamoDB attribute ``"status": {"S": "x"}``; ``{"status": {"S": [...]}}`` does.
    """
    if value is _MISSING:
        return []
    return [v for v in _flat(value) if not isinstance(v, dict)]


def _match_object(sub: Mapping[str, Any], value: Any) -> bool:
    objects = [v for v in _flat(value) if isinstance(v, dict)] if value is not _MISSING else []
    if objects:
        # within one array element, as EventBridge's array-consistent matching does
        return any(matches(sub, o) for o in objects)
    # nothing below this key (missing, a leaf, or no object in the array): only "does not
    # exist" rules can match
    return _only_absent_rules(sub)


def _only_absent_rules(sub: Mapping[str, Any]) -> bool:
    for k, v in sub.items():
        if k == "$or" and isinstance(v, list):
            if not any(isinstance(p, dict) and _only_absent_rules(p) for p in v):
                return False
        elif isinstance(v, dict):
            if not _only_absent_rules(v):
                return False
        elif isinstance(v, list):
            if not any(isinstance(r, dict) and r.get("exists") is False for r in v):
                return False
        else:
            return False
    return True


def _match_leaf(rules: list[Any], value: Any) -> bool:
    leaves = _leaves(value)
    for rule in rules:
        if isinstance(rule, dict) and "exists" in rule:
            if bool(leaves) == bool(rule["exists"]):
                return True
            continue
        if not leaves:
            continue
        if isinstance(rule, dict):
            if _match_operator(rule, leaves):
                return True
        elif any(_equal(rule, v) for v in leaves):
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
        rx = _wildcard_regex(arg)
        return any(isinstance(v, str) and rx.fullmatch(v) is not None for v in values)
    if op == "numeric":
        return any(_is_number(v) and _numeric(arg, v) for v in values)
    if op == "anything-but":
        # each value of an array on its own, like every other rule: ["a", "b"] is anything
        # but "a" (its "b" is)
        return any(_anything_but(arg, v) for v in values)
    raise FilterPatternError(f"unsupported filter operator: {op!r}")


def _wildcard_regex(arg: Any) -> re.Pattern[str]:
    """``*`` matches any run of characters; ``\\*`` is a literal star, ``\\\\`` a backslash."""
    if not isinstance(arg, str):
        raise FilterPatternError(f"wildcard takes a string: {arg!r}")
    out: list[str] = []
    i = 0
    while i < len(arg):
        c = arg[i]
        if c == "\\":
            nxt = arg[i + 1 : i + 2]
            if nxt not in ("*", "\\"):
                raise FilterPatternError(f"wildcard: a backslash escapes only * or \\: {arg!r}")
            out.append(re.escape(nxt))
            i += 2
            continue
        if c == "*":
            if arg[i + 1 : i + 2] == "*":
                raise FilterPatternError(f"wildcard: consecutive * are not allowed: {arg!r}")
            out.append(".*")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


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
        if "wildcard" in arg:
            return not (isinstance(v, str) and _wildcard_regex(arg["wildcard"]).fullmatch(v))
        if "equals-ignore-case" in arg:
            opts = arg["equals-ignore-case"]
            opts = opts if isinstance(opts, list) else [opts]
            return not (isinstance(v, str) and v.casefold() in {str(o).casefold() for o in opts})
        raise FilterPatternError(f"unsupported anything-but rule: {arg!r}")
    excluded = arg if isinstance(arg, list) else [arg]
    return not any(_equal(e, v) for e in excluded)
