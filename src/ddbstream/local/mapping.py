"""Temporary changes to an event source mapping, for a demonstration or a drill.

The stack's defaults retry a failing batch for minutes before it reaches the DLQ (so an outage
rides through, see terraform/README.md "Riding through an outage"). A walkthrough that wants the
seed's error test to reach the DLQ at once sets the mapping's retries to 0 for that step and
puts them back, as an operator would with
``aws lambda update-event-source-mapping --uuid UUID --maximum-retry-attempts 0``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

#: How long the local runtime takes to see a changed mapping (it lists them every second).
SETTLE_S = 2.5

CLI_COMMAND = (
    "aws lambda update-event-source-mapping --uuid "
    "$(ddbstream output -raw event_source_mapping_uuid) --maximum-retry-attempts {n}"
)


@contextlib.contextmanager
def retries(lam: Any, uuid: str, n: int = 0, settle: float = SETTLE_S) -> Iterator[int]:
    """Within the block the mapping ``uuid`` retries a failing batch ``n`` times; the previous
    value is put back on exit (and yielded)."""
    before = int(lam.get_event_source_mapping(UUID=uuid)["MaximumRetryAttempts"])
    lam.update_event_source_mapping(UUID=uuid, MaximumRetryAttempts=n)
    time.sleep(settle)
    try:
        yield before
    finally:
        lam.update_event_source_mapping(UUID=uuid, MaximumRetryAttempts=before)
        time.sleep(settle)
