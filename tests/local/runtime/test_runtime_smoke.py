"""Smoke: a record written to the table reaches the deployed handler."""

from __future__ import annotations

BASIC = """
def handler(event, context):
    print("Processing", len(event["Records"]), "records")
    record(event)
"""


def test_record_reaches_handler(lab):
    lab.table()
    lab.function(BASIC)
    lab.mapping()
    rt = lab.runtime()
    lab.put("a", v=1)
    assert rt.wait_idle(15)
    assert lab.batches() == [["a"]]
