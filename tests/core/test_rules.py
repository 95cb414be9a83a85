"""Notification rules: parsing with clear errors, and matching."""

from __future__ import annotations

import json

import pytest

from ddbstream.core.decode import decode_record
from ddbstream.core.rules import DEFAULT_RULES, RulesError, parse_rules
from ddbstream.testing.records import activity, stream_record

KEYS = {"UserId": "u1", "ActivityId": "a1"}


def ev(name="INSERT", new=None, old=None, ttl=False, view="NEW_AND_OLD_IMAGES"):  # type: ignore[no-untyped-def]
    return decode_record(stream_record(name, KEYS, new, old, ttl=ttl, view=view))


def rules(*rs):  # type: ignore[no-untyped-def]
    return parse_rules(json.dumps({"rules": list(rs)}))


def test_default_rules_notify_every_change():
    assert parse_rules(None) is DEFAULT_RULES
    assert parse_rules("  ") is DEFAULT_RULES
    for name in ("INSERT", "MODIFY", "REMOVE"):
        assert DEFAULT_RULES.match(ev(name, new=activity("u1", 1), old=activity("u1", 1)))


def test_event_names():
    rs = rules({"name": "inserts", "events": ["INSERT"]})
    assert rs.match(ev("INSERT")) == ("inserts",)
    assert rs.match(ev("REMOVE")) == ()


def test_attribute_values_on_new_and_old_image():
    rs = rules(
        {"name": "errors", "new": {"ActivityType": ["ERROR_TEST", "LOGIN_FAILED"]}},
        {"name": "was-admin", "old": {"Role": "admin"}},
    )
    assert rs.match(ev(new={"ActivityType": "ERROR_TEST"})) == ("errors",)
    assert rs.match(ev(new={"ActivityType": "LOGIN"})) == ()
    assert rs.match(ev("REMOVE", old={"Role": "admin"})) == ("was-admin",)
    both = ev("MODIFY", new={"ActivityType": "LOGIN_FAILED"}, old={"Role": "admin"})
    assert rs.match(both) == ("errors", "was-admin")


def test_numbers_compare_by_value_and_booleans_are_not_numbers():
    rs = rules({"name": "n", "new": {"Level": [3]}}, {"name": "b", "new": {"Flag": [True]}})
    assert rs.match(ev(new={"Level": 3})) == ("n",)
    assert rs.match(ev(new={"Level": "3"})) == ()
    assert rs.match(ev(new={"Flag": True})) == ("b",)
    assert rs.match(ev(new={"Flag": 1})) == ()
    assert rs.match(ev(new={"Level": True})) == ()
    assert rules({"name": "f", "new": {"Score": 1.5}}).match(ev(new={"Score": 1.5}))


def test_prefix_exists_changed_ttl_keys():
    rs = rules(
        {"name": "p", "new": {"ActivityType": {"prefix": "LOGIN"}}},
        {"name": "no-ip", "events": ["INSERT"], "new": {"IPAddress": {"exists": False}}},
        {"name": "role", "events": ["MODIFY"], "changed": ["Role"]},
        {"name": "ttl", "ttl": True},
        {"name": "u1", "keys": {"UserId": "u1"}, "events": ["REMOVE"]},
    )
    assert rs.match(ev(new={"ActivityType": "LOGIN_FAILED", "IPAddress": "x"})) == ("p",)
    assert rs.match(ev(new={"ActivityType": "LOGOUT"})) == ("no-ip",)
    assert rs.match(ev("MODIFY", new={"Role": "a"}, old={"Role": "b"})) == ("role",)
    assert rs.match(ev("MODIFY", new={"Role": "a"}, old={})) == ("role",)  # added
    assert rs.match(ev("MODIFY", new={"Role": "a"}, old={"Role": "a"})) == ()
    assert rs.match(ev("REMOVE", old={"x": 1}, ttl=True)) == ("ttl", "u1")
    assert rs.match(ev("REMOVE", old={"x": 1})) == ("u1",)


def test_keys_only_view_has_no_images_to_match():
    rs = rules({"name": "errors", "new": {"ActivityType": "ERROR"}})
    assert rs.match(ev(new={"ActivityType": "ERROR"}, view="KEYS_ONLY")) == ()


def test_empty_rule_list_notifies_nothing():
    assert parse_rules('{"rules": []}').match(ev()) == ()
    assert parse_rules("[]").match(ev()) == ()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"rule": []}', "unknown top-level key"),
        ('{"rules": {}}', "expected a list of rules"),
        ("[1]", r"rules\[0\]: a rule must be an object"),
        ('[{"events": ["INSERT"]}]', r"rules\[0\]\.name: required"),
        ('[{"name": "a", "events": ["UPDATE"]}]', r"events\[0\]: 'UPDATE' is not one of"),
        ('[{"name": "a", "events": []}]', "non-empty list"),
        ('[{"name": "a", "event": ["INSERT"]}]', "unknown key"),
        ('[{"name": "a", "new": ["x"]}]', r"\.new: expected an object"),
        ('[{"name": "a", "new": {"x": []}}]', "matches nothing"),
        ('[{"name": "a", "new": {"x": {"regex": "."}}}]', "unknown operator 'regex'"),
        ('[{"name": "a", "new": {"x": {"prefix": 1}}}]', "'prefix' takes a string"),
        ('[{"name": "a", "new": {"x": [[1]]}}]', "nested lists"),
        ('[{"name": "a", "ttl": "yes"}]', "ttl: expected true or false"),
        ('[{"name": "a", "changed": [1]}]', "changed: expected a list"),
        ('[{"name": "a"}, {"name": "a"}]', "duplicate rule name"),
    ],
)
def test_invalid_documents_name_the_problem(doc, message):  # type: ignore[no-untyped-def]
    with pytest.raises(RulesError, match=message):
        parse_rules(doc)
