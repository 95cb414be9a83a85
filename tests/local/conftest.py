"""One local stack shared by the integration tests of a run (``local_stack``).

The stack is started the way a user starts it, ``ddbstream up --detach`` with a state directory
of the test session (never the project's ``.ddbstream/``) on a free port, and stopped with
``ddbstream down`` at the end of the session.

How long ``up`` takes, and why (measured on this 2-core machine, moto 5.2, hashicorp/aws 5.100):
a cold ``up`` takes about 75-80 s, nearly all of it ``terraform apply`` creating the stack's 25
resources in the emulator. The emulator starts in under a second, the package builds in well
under a second, ``terraform init`` from the offline mirror takes about a second and the runtime
starts in a fraction of a second. Inside the apply, the AWS provider waits on its own:
``aws_s3_bucket_lifecycle_configuration`` about 55 s (the provider polls until the lifecycle it
reads back matches, and gives up waiting only after its timeout), ``aws_sqs_queue`` about 25 s
(the provider waits for the queue's attributes to settle) and ``aws_kms_key`` about 12 s; they
overlap, and the lifecycle wait is the critical path. An ``up`` that restores the emulator's
saved state (after ``down``) takes about 20 s: Terraform refreshes the 25 resources and finds
nothing to create. The session fixture pays the cold price once; the tests share the stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from stack_helpers import LocalStackHandle, start_stack, stop_stack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackHandle]:
    state_dir = tmp_path_factory.mktemp("ddbstream-state")
    state, took, out = start_stack(state_dir, port=0)
    handle = LocalStackHandle(state_dir=state_dir, up_seconds=took, up_output=out, state=state)
    timings = json.dumps({k: round(v, 1) for k, v in state.get("timings", {}).items()})
    print(f"\nlocal stack up in {took:.1f}s at {handle.endpoint}: {timings}")
    try:
        yield handle
    finally:
        stop_stack(state_dir)
