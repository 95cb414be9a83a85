"""Fixtures for the Terraform tests: one Lambda zip, one ``terraform init`` and one default plan
per session, all against the session's in-process moto server (tests/conftest.py).

Every workdir here is a fresh directory under pytest's tmp path with symlinks to terraform/*.tf
and a generated ``local_override.tf``: terraform/ itself is never written and no real account
is ever reached. Names use their own ``environment`` so they cannot clash with other tests that
apply the stack to the same (shared, in-process) emulator.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ddbstream import packaging
from ddbstream.local import terraform as tf

PLAN_ENVIRONMENT = "tfplan"

#: The ARNs the stack outputs besides the walkthrough's names (stack.WALKTHROUGH_OUTPUTS).
ARN_OUTPUTS = (
    "dynamodb_table_arn",
    "dynamodb_stream_arn",
    "lambda_function_arn",
    "dlq_arn",
    "s3_bucket_arn",
)


def normalise(text: str) -> str:
    """Terraform's diagnostics without box-drawing characters and line wrapping."""
    return re.sub(r"\s+", " ", re.sub(r"[│╷╵]", " ", text)).strip()


def clone_init(src: Path, dst: Path) -> None:
    """Reuse ``src``'s ``terraform init`` in ``dst`` (same configuration: same providers).

    ``.terraform`` holds the backend settings and a symlink to the provider in the mirror, so
    a copy is a complete, valid init for another directory with the same .tf files.
    """
    shutil.copytree(src / ".terraform", dst / ".terraform", symlinks=True, dirs_exist_ok=True)
    shutil.copy2(src / ".terraform.lock.hcl", dst / ".terraform.lock.hcl")


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    found = shutil.which("terraform")
    if found is None:
        pytest.skip("terraform is not on PATH (install Terraform 1.9+ to run the stack tests)")
    return found


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return packaging.build(tmp_path_factory.mktemp("package") / "ddbstream-lambda.zip").path


@pytest.fixture(scope="session")
def base_variables(lambda_zip: Path) -> dict[str, Any]:
    return {"lambda_package_path": str(lambda_zip), "environment": PLAN_ENVIRONMENT}


@pytest.fixture(scope="session")
def plan_workdir(
    tmp_path_factory: pytest.TempPathFactory,
    terraform_bin: str,
    moto_endpoint: str,
    base_variables: dict[str, Any],
) -> Path:
    """The session's one ``terraform init``: a workdir against the emulator, no state."""
    wd = tf.prepare_workdir(tmp_path_factory.mktemp("tf-plan"), moto_endpoint, base_variables)
    tf.init(wd)
    return wd


@pytest.fixture
def make_workdir(
    tmp_path_factory: pytest.TempPathFactory, plan_workdir: Path, moto_endpoint: str
) -> Iterator[Any]:
    """Factory: a fresh workdir against the emulator that reuses the session's init."""

    def make(name: str, variables: Mapping[str, Any]) -> Path:
        wd = tf.prepare_workdir(tmp_path_factory.mktemp(name), moto_endpoint, variables)
        clone_init(plan_workdir, wd)
        return wd

    yield make


EXAMPLE_TFVARS = Path(__file__).resolve().parents[2] / "terraform" / "terraform.tfvars.example"


@pytest.fixture(scope="session")
def default_plan(plan_workdir: Path) -> dict[str, Any]:
    """``terraform show -json`` of a plan with the stack's defaults: terraform.tfvars.example,
    which sets the defaults (so it is checked to be valid too), and the test's package path."""
    tf.plan(plan_workdir, out="default.tfplan", extra_args=[f"-var-file={EXAMPLE_TFVARS}"])
    return tf.show_json(plan_workdir, "default.tfplan")


#: The root configuration calls the stack as this module (terraform/main.tf).
MODULE = "module.ddbstream"
MODULE_DIR = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "ddbstream"


def resources(plan: Mapping[str, Any], rtype: str | None = None) -> dict[str, dict[str, Any]]:
    """Planned resources of the root's ddbstream module by address within it (``type.name``,
    ``type.name[0]``, ``module.audit_bucket[0].type.name`` for its own child modules),
    optionally of one type."""
    children = plan["planned_values"]["root_module"].get("child_modules", [])
    (module,) = [c for c in children if c["address"] == MODULE]
    found, todo = [], [module]
    while todo:
        current = todo.pop()
        found += current.get("resources", [])
        todo += current.get("child_modules", [])
    return {
        r["address"].removeprefix(MODULE + "."): r
        for r in found
        if rtype is None or r["type"] == rtype
    }


def module_config(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration of the module the root calls (its variables, outputs, resources)."""
    return plan["configuration"]["root_module"]["module_calls"]["ddbstream"]["module"]  # type: ignore[no-any-return]


def config_resources(plan: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The module's resources and data sources by address, with their expressions."""
    return {r["address"]: r for r in module_config(plan)["resources"]}
