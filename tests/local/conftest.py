"""One local stack shared by the integration tests of a run (``local_stack``). Under pytest-xdist
every test using it runs on the same worker (tests/conftest.py), so it still starts once.

The stack is started the way a user starts it, ``ddbstream up --detach`` with a state directory
of the test session (never the project's ``.ddbstream/``) on a free port, and stopped with
``ddbstream down`` at the end of the session. Two tests start a stack of their own on purpose:
the demo from a cold start (test_demo.py) and a start abandoned half-way (test_stack.py).

How long ``up`` takes, and why (measured on this 2-core machine, moto 5.2, hashicorp/aws 5.100):
a cold ``up`` takes 68-80 s (runs measured: 68.4, 69.1, 71.5, 79.3 s), nearly all of it
``terraform apply`` creating the stack's resources in the emulator. The emulator starts in about
0.4 s, the package builds in well under a second, ``terraform init`` from the offline mirror
takes 0.5-1 s and the runtime starts in 0.3 s. Inside the apply, the AWS provider waits on its
own, the same as it would on AWS (see terraform/README.md):
``aws_s3_bucket_lifecycle_configuration`` 55 s (it re-reads the rules until it has seen them
unchanged 10 times, 5 s apart, after a 10 s delay), ``aws_sqs_queue`` 25 s (attributes unchanged
6 times, 5 s apart) and ``aws_kms_key`` 12 s; they overlap, and the lifecycle wait ends the
apply. An ``up`` that restores the emulator's saved state (after ``down``) takes 10-20 s:
Terraform refreshes the resources and finds nothing to create. The session fixture pays the cold
price once; the tests share the stack.
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
