"""Notification rules: which changes are published to SNS.

A rules document is JSON (the ``NOTIFICATION_RULES`` environment variable)::

    {"rules": [
      {"name": "every-change"},
      {"name": "failed-logins", "events": ["INSERT"],
       "new": {"ActivityType": ["LOGIN_FAILED", "ERROR_TEST"]}},
      {"name": "admin-touched", "events": ["MODIFY"], "changed": ["Role"],
       "old": {"Role": {"prefix": "admin"}}},
      {"name": "expired", "events": ["REMOVE"], "ttl": true}
    ]}

A bare list of rules is accepted too. Each rule has:

``name`` (required)
    reported in the message (``rules`` attribute and body) so subscribers know why.
``events``
    event names it applies to (default: all of INSERT, MODIFY, REMOVE).
``new`` / ``old`` / ``keys``
    conditions on top-level attributes of the new image, the old image or the keys. A condition
    is a list of accepted values (any of; a single value is a one-element list), where each entry
    is a JSON value compared exactly (numbers by value, ``true`` is not ``1``), or
    ``{"prefix": "text"}``, or ``{"exists": true|false}``.
``changed``
    attribute names of which at least one must have been added, removed or changed (MODIFY).
``ttl``
    ``true``: only deletions by Time to Live; ``false``: never those.

All conditions of a rule must hold; a change is notified once if any rule matches. With the
stream view type ``KEYS_ONLY`` there are no images, so ``new``/``old`` conditions do not match
(``{"exists": false}`` does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ddbstream.core.decode import EVENT_NAMES, ChangeEvent
from ddbstream.core.jsonenc import loads

_RULE_KEYS = ("name", "events", "new", "old", "keys", "changed", "ttl")
_MISSING = object()


class RulesError(ValueError):
    """The rules document is invalid; the message names the offending part."""


@dataclass(frozen=True, slots=True)
class Matcher:
    """One accepted value: an exact value, a string prefix, or (non-)existence."""

    kind: str  # "eq" | "prefix" | "exists"
    value: Any

    def test(self, present: bool, v: Any) -> bool:
        if self.kind == "exists":
            return present is self.value
        if not present:
            return False
        if self.kind == "prefix":
            return type(v) is str and v.startswith(self.value)
        return _json_equal(v, self.value)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    events: frozenset[str]
    new: tuple[tuple[str, tuple[Matcher, ...]], ...] = ()
    old: tuple[tuple[str, tuple[Matcher, ...]], ...] = ()
    keys: tuple[tuple[str, tuple[Matcher, ...]], ...] = ()
    changed: frozenset[str] | None = None
    ttl: bool | None = None

    def is_event_only(self) -> bool:
        return not (self.new or self.old or self.keys) and self.changed is None and self.ttl is None

    def matches(self, ev: ChangeEvent) -> bool:
        if ev.event_name not in self.events:
            return False
        if self.ttl is not None and ev.ttl_expiry is not self.ttl:
            return False
        if self.changed is not None:
            if ev.added is None:
                return False
            touched = self.changed
            if not (
                touched.intersection(ev.added)
                or touched.intersection(ev.removed or ())
                or touched.intersection(ev.changed or ())
            ):
                return False
        return (
            _conds_hold(self.new, ev.new_image)
            and _conds_hold(self.old, ev.old_image)
            and _conds_hold(self.keys, ev.keys)
        )


def _conds_hold(
    conds: tuple[tuple[str, tuple[Matcher, ...]], ...], image: Mapping[str, Any] | None
) -> bool:
    for attr, matchers in conds:
        v = _MISSING if image is None else image.get(attr, _MISSING)
        present = v is not _MISSING
        if not any(m.test(present, v) for m in matchers):
            return False
    return True


def _json_equal(a: Any, b: Any) -> bool:
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    return bool(a == b)


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    # When every rule tests only the event name (the default rules do): name -> matching rules.
    _by_event: dict[str, tuple[str, ...]] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if all(r.is_event_only() for r in self.rules):
            by_event = {e: tuple(r.name for r in self.rules if e in r.events) for e in EVENT_NAMES}
            object.__setattr__(self, "_by_event", by_event)

    def match(self, ev: ChangeEvent) -> tuple[str, ...]:
        """Names of the rules that match ``ev`` (empty: do not notify)."""
        if self._by_event is not None:
            return self._by_event[ev.event_name]
        return tuple(r.name for r in self.rules if r.matches(ev))


DEFAULT_RULES = RuleSet((Rule(name="all-changes", events=frozenset(EVENT_NAMES)),))


def parse_rules(text: str | None) -> RuleSet:
    """Parse and validate a rules document; ``None`` or blank text gives :data:`DEFAULT_RULES`."""
    if text is None or not text.strip():
        return DEFAULT_RULES
    try:
        doc = loads(text)
    except ValueError as exc:
        raise RulesError(f"not valid JSON: {exc}") from None
    if isinstance(doc, dict):
        extra = set(doc) - {"rules"}
        if extra:
            raise RulesError(f"unknown top-level key(s) {sorted(extra)} (allowed: 'rules')")
        if "rules" not in doc:
            raise RulesError("missing top-level key 'rules'")
        doc = doc["rules"]
    if not isinstance(doc, list):
        raise RulesError("expected a list of rules or an object {'rules': [...]}")
    rules = tuple(_parse_rule(r, f"rules[{i}]") for i, r in enumerate(doc))
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RulesError(f"duplicate rule name(s) {dupes}")
    return RuleSet(rules)


def _parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: a rule must be an object, got {_jtype(raw)}")
    extra = [k for k in raw if k not in _RULE_KEYS]
    if extra:
        raise RulesError(f"{where}: unknown key(s) {extra} (allowed: {', '.join(_RULE_KEYS)})")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RulesError(f"{where}.name: required, a non-empty string")
    where = f"{where} ({name!r})"
    events = raw.get("events", list(EVENT_NAMES))
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events:
        raise RulesError(f"{where}.events: expected a non-empty list of event names")
    for j, e in enumerate(events):
        if e not in EVENT_NAMES:
            raise RulesError(f"{where}.events[{j}]: {e!r} is not one of {', '.join(EVENT_NAMES)}")
    changed = raw.get("changed")
    if changed is not None:
        if isinstance(changed, str):
            changed = [changed]
        if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
            raise RulesError(f"{where}.changed: expected a list of attribute names")
        changed = frozenset(changed)
    ttl = raw.get("ttl")
    if ttl is not None and not isinstance(ttl, bool):
        raise RulesError(f"{where}.ttl: expected true or false")
    return Rule(
        name=name,
        events=frozenset(events),
        new=_parse_conds(raw.get("new"), f"{where}.new"),
        old=_parse_conds(raw.get("old"), f"{where}.old"),
        keys=_parse_conds(raw.get("keys"), f"{where}.keys"),
        changed=changed,
        ttl=ttl,
    )


def _parse_conds(raw: Any, where: str) -> tuple[tuple[str, tuple[Matcher, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: expected an object of attribute name -> accepted values")
    out = []
    for attr, accepted in raw.items():
        if not isinstance(accepted, list):
            accepted = [accepted]
        if not accepted:
            raise RulesError(f"{where}.{attr}: empty list of accepted values matches nothing")
        out.append((attr, tuple(_parse_matcher(a, f"{where}.{attr}") for a in accepted)))
    return tuple(out)


def _parse_matcher(raw: Any, where: str) -> Matcher:
    if isinstance(raw, dict):
        if len(raw) != 1:
            raise RulesError(f"{where}: an operator object has exactly one key: prefix or exists")
        ((op, arg),) = raw.items()
        if op == "prefix":
            if not isinstance(arg, str):
                raise RulesError(f"{where}: 'prefix' takes a string")
            return Matcher("prefix", arg)
        if op == "exists":
            if not isinstance(arg, bool):
                raise RulesError(f"{where}: 'exists' takes true or false")
            return Matcher("exists", arg)
        raise RulesError(f"{where}: unknown operator {op!r} (allowed: prefix, exists)")
    if isinstance(raw, list):
        raise RulesError(f"{where}: nested lists are not accepted values")
    return Matcher("eq", raw)


def _jtype(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(v), "a number" if isinstance(v, (int, Decimal)) else "null"
    )


def describe(rules: RuleSet) -> Sequence[str]:
    """One line per rule, for logs."""
    return [f"{r.name}: {','.join(sorted(r.events))}" for r in rules.rules]
