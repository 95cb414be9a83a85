"""Notification messages: subjects, JSON bodies, message attributes, PublishBatch chunks."""

from __future__ import annotations

import json

from ddbstream.core.audit import event_to_line
from ddbstream.core.decode import decode_record
from ddbstream.core.notify import (
    MAX_BATCH_BYTES,
    build_notification,
    chunk_notifications,
    clean_subject,
)
from ddbstream.testing.records import activity, stream_record

KEYS = {"UserId": "u1", "ActivityId": "a1"}
ATTRS = ("ActivityType", "UserId")


def note(name="INSERT", new=None, old=None, ttl=False, index=0, attrs=ATTRS):  # type: ignore[no-untyped-def]
    ev = decode_record(stream_record(name, KEYS, new, old, ttl=ttl))
    return build_notification(index, ev, ("all-changes",), attrs)


def test_subjects_follow_the_seed():
    assert note("INSERT", new=activity("u1", 1)).subject == "DynamoDB Activity: New Record Created"
    assert note("MODIFY").subject == "DynamoDB Activity: Record Modified"
    assert note("REMOVE").subject == "DynamoDB Activity: Record Removed"
    assert note("REMOVE", ttl=True).subject == "DynamoDB Activity: Record Expired (TTL)"


def test_subject_is_at_most_100_printable_ascii_characters():
    s = clean_subject("Ärger\nüber " + "x" * 200)
    assert len(s) <= 100
    assert all(" " <= c <= "~" for c in s)
    assert s.endswith("...")


def test_body_is_json_describing_the_change():
    n = note("MODIFY", new=activity("u1", 1, "LOGOUT"), old=activity("u1", 1))
    body = json.loads(n.message)
    assert body["event_name"] == "MODIFY"
    assert body["table_name"] == "UserActivities"
    assert body["keys"] == KEYS
    assert body["new_image"]["ActivityType"] == "LOGOUT"
    assert body["old_image"]["ActivityType"] == "LOGIN"
    assert body["changed_attributes"] == ["ActivityId", "ActivityType"]
    assert n.attributes["rules"] == {"DataType": "String.Array", "StringValue": '["all-changes"]'}


def test_body_is_the_audit_line():
    ev = decode_record(stream_record("INSERT", KEYS, activity("u1", 1)))
    line = event_to_line(ev)
    assert build_notification(0, ev, ("r",), ATTRS, line).message == line
    assert build_notification(0, ev, ("r",), ATTRS).message == line


def test_message_attributes_for_filter_policies():
    n = note(new={**activity("u7", 3, "LOGIN_FAILED"), "Score": 5, "Vip": True})
    assert n.attributes["eventName"] == {"DataType": "String", "StringValue": "INSERT"}
    assert n.attributes["tableName"] == {"DataType": "String", "StringValue": "UserActivities"}
    assert n.attributes["ActivityType"] == {"DataType": "String", "StringValue": "LOGIN_FAILED"}
    assert n.attributes["UserId"] == {"DataType": "String", "StringValue": "u7"}
    assert n.attributes["ttlExpiry"]["StringValue"] == "false"
    n = note(new={"Score": 5, "Vip": True, "Tags": {"a", "b"}}, attrs=("Score", "Vip", "Tags"))
    assert n.attributes["Score"] == {"DataType": "Number", "StringValue": "5"}
    assert n.attributes["Vip"] == {"DataType": "String", "StringValue": "true"}
    assert n.attributes["Tags"] == {"DataType": "String.Array", "StringValue": '["a","b"]'}


def test_removed_item_attributes_come_from_the_old_image():
    n = note("REMOVE", old=activity("u9", 1, "LOGOUT"))
    assert n.attributes["ActivityType"]["StringValue"] == "LOGOUT"
    assert n.attributes["UserId"]["StringValue"] == "u9"


def test_maps_and_empty_strings_are_not_attributes():
    n = note(new={"ActivityType": {"nested": 1}, "UserId": ""})
    assert "ActivityType" not in n.attributes
    assert "UserId" not in n.attributes


def test_huge_item_body_omits_images():
    n = note(new={"Blob": "x" * 300_000})
    body = json.loads(n.message)
    assert body["images_omitted"] is True
    assert body["new_image"] is None
    assert len(n.message.encode()) < 256 * 1024


def test_chunks_have_at_most_10_entries_and_256_kib():
    small = [note(index=i) for i in range(25)]
    chunks = list(chunk_notifications(small))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [m.index for c in chunks for m in c] == list(range(25))
    big = [note(index=i, new={"Blob": "y" * 100_000}) for i in range(5)]
    chunks = list(chunk_notifications(big))
    assert all(sum(m.size() for m in c) <= MAX_BATCH_BYTES for c in chunks)
    assert [m.index for c in chunks for m in c] == list(range(5))
    assert len(chunks) == 3


def test_fifo_topic_gets_group_and_dedup_ids():
    ev = decode_record(stream_record("INSERT", KEYS, activity("u1", 1)))
    a = build_notification(0, ev, ("r",), ATTRS, fifo=True)
    b = build_notification(0, ev, ("r",), ATTRS, fifo=True)
    assert a.group_id and a.dedup_id
    assert (a.group_id, a.dedup_id) == (b.group_id, b.dedup_id)


def test_values_sns_would_reject_are_left_out():
    n = note(new={"ActivityType": "bad\x01char", "UserId": "u" * 2000}, attrs=ATTRS)
    assert "ActivityType" not in n.attributes
    assert "UserId" not in n.attributes
    n = note(new={"ActivityType": "tab\tand émoji 🎉", "UserId": "u1"})
    assert n.attributes["ActivityType"]["StringValue"] == "tab\tand émoji 🎉"
