"""Shared fixtures: one moto server per test session (per xdist worker), started in process.

``make test`` runs the suite on pytest-xdist workers (``-n 3 --dist loadgroup``): nearly all of
its time is waiting (the AWS provider's own waits inside ``terraform apply``, stacks starting and
stopping, polling), so the waits of different tests overlap. Each worker is a process of its own,
with its own moto server, environment and tmp paths.

With ``--dist loadgroup`` the hooks below decide who runs what. Every test that uses a session
fixture of SHARED_FIXTURE_GROUPS (directly or through another fixture) gets that fixture's
``xdist_group`` mark (unless marked already), and all tests of one group run on one worker, so the
fixture is set up once per run. The scheduler is xdist's own work-unit scheduler (a group is one
unit, any other test a unit by itself); it learns each test's group from the workers (a file per
worker, written at collection) instead of from a suffix xdist appends to node ids, which pytest 9.2
no longer lets it do. The longest units are handed out first (LONGEST_FIRST), so no long test
starts last.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ddbstream.local import clients, emulator

#: Session fixtures worth starting once per run, not once per worker.
SHARED_FIXTURE_GROUPS = {
    "local_stack": "local-stack",  # tests/local/conftest.py: a cold `ddbstream up`, ~70-90 s
    # tests/terraform/conftest.py: the default plan (test_contract.py is marked as a whole; not
    # plan_workdir: test_apply*.py only copy its init, and must stay apart to overlap)
    "default_plan": "terraform-plan",
}

#: The longest units of work, longest first (measured on this 2-core machine): the scheduler
#: hands work out in this order, so these overlap instead of ending the run. A name here that
#: no longer matches anything only changes the order, never what runs.
LONGEST_FIRST = (
    "local-stack",  # the shared stack's tests together: ~350 s, its cold `up` included
    "tests/terraform/test_apply.py::",  # ~200 s: plan, apply, replan, moved plans, destroy
    "tests/terraform/test_apply_options.py::",  # ~140 s
    "tests/local/test_demo.py::test_demo_from_a_cold_start",  # ~130 s: a stack of its own
    "terraform-plan",  # test_contract.py: ~150-270 s, one plan after another
)

_GROUPS_DIR_KEY = "ddbstream_xdist_groups"


def _group_of(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def _rank(item: pytest.Item) -> int:
    keys = [item.nodeid, _group_of(item) or ""]
    for rank, prefix in enumerate(LONGEST_FIRST):
        if any(key.startswith(prefix) for key in keys if key):
            return rank
    return len(LONGEST_FIRST)


def _is_long(scope: str) -> bool:
    """A scheduler's unit (a group name or a node id) is one of LONGEST_FIRST."""
    return scope.startswith(LONGEST_FIRST)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        for fixture, group in SHARED_FIXTURE_GROUPS.items():
            if fixture in item.fixturenames:
                item.add_marker(pytest.mark.xdist_group(group))
                break
    # Stable: tests of one module keep their order, so module fixtures are set up once.
    items.sort(key=_rank)
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput and workerinput.get(_GROUPS_DIR_KEY):
        groups = {item.nodeid: g for item in items if (g := _group_of(item))}
        out = Path(workerinput[_GROUPS_DIR_KEY]) / f"{workerinput['workerid']}.json"
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        os.replace(tmp, out)


def _groups_dir(config: pytest.Config) -> str:
    """Controller side: the directory the workers write their tests' groups to (one per run)."""
    found: str | None = getattr(config, "_ddbstream_groups_dir", None)
    if found is None:
        found = tempfile.mkdtemp(prefix="ddbstream-xdist-groups-")
        config._ddbstream_groups_dir = found  # type: ignore[attr-defined]
        config.add_cleanup(lambda: shutil.rmtree(found, ignore_errors=True))
    return found


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    if node.config.getoption("dist") == "loadgroup":
        node.workerinput[_GROUPS_DIR_KEY] = _groups_dir(node.config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    groups_dir = _groups_dir(config)
    config.option.loadscopereorder = False  # keep the LONGEST_FIRST order

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """xdist's scope scheduling with a test's xdist_group as its scope. xdist sends a
        worker its next unit before the current one ends; a worker busy with a long unit gets
        a short one from the end of the queue, so two long ones never queue on one worker."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # every worker has collected by the first call
                self.groups = {}
                for path in sorted(Path(groups_dir).glob("*.json")):
                    self.groups.update(json.loads(path.read_text()))
            return self.groups.get(nodeid, nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            assigned = self.assigned_work.setdefault(node, {})
            busy = any(_is_long(s) and not all(done.values()) for s, done in assigned.items())
            from_end = busy and not _is_long(next(reversed(self.workqueue)))
            scope, unit = self.workqueue.popitem(last=from_end)
            assigned[scope] = unit
            collection = self.registered_collections[node]
            node.send_runtest_some([collection.index(n) for n, done in unit.items() if not done])

    return GroupScheduling(config, log)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Endpoint of an in-process moto server; AWS env vars point at it for the whole session."""
    emu = emulator.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in clients.env(emu.endpoint).items():
                mp.setenv(name, value)
            yield emu.endpoint
    finally:
        emu.stop()


@pytest.fixture
def aws_client(moto_endpoint: str):  # type: ignore[no-untyped-def]
    """Factory for boto3 clients bound to the session's moto server."""

    return clients.Clients(moto_endpoint)
