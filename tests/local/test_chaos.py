"""The reliability suite at a reduced size (``make chaos`` runs it whole): S3 refusing writes,
SNS failing, and the function's workers killed, each while changes are written to the shared
local stack; nothing acknowledged is lost and the deduplicated view has each change once."""

from __future__ import annotations

import pytest
from stack_helpers import LocalStackHandle

from ddbstream.local import chaos


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["s3", "sns", "worker"])
def test_a_fault_loses_nothing(local_stack: LocalStackHandle, fault: str) -> None:
    tally = chaos.run_fault(local_stack.state_dir, fault, n=40, window=8, say=print)
    print("\n" + tally.line())
    assert tally.written == 40
    assert tally.lost == 0 and tally.view_dups == 0, tally
    assert tally.audited >= tally.written
    assert tally.raw_dups <= tally.written  # at most twice each under one outage
