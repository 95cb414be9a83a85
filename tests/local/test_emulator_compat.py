"""The emulator's hold on moto: the supported range comes from pyproject.toml, and each patch
checks what it replaces (ddbstream.local.emulator.compat)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from ddbstream.local.emulator import compat
from ddbstream.local.emulator.patches import athena_model_both_protocols

ROOT = Path(__file__).resolve().parents[2]


def test_the_supported_moto_range_is_pyprojects_and_the_installed_moto_is_in_it() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["local"]
    declared = next(Requirement(r).specifier for r in extras if Requirement(r).name == "moto")
    assert SpecifierSet(compat.supported_moto() or "") == declared
    assert compat.installed_moto() in declared
    compat.check_moto_version()  # the locked moto passes


class _Target:
    def method(self, spec: dict[str, Any], extra: int = 0) -> None: ...


def test_a_patch_target_that_moved_is_refused_with_one_line_naming_it() -> None:
    assert compat.original(_Target, "method", "spec") is _Target.method
    with pytest.raises(compat.UnsupportedMotoError) as missing:
        compat.original(_Target, "gone")
    message = str(missing.value)
    assert "_Target.gone is missing" in message
    assert f"moto {compat.installed_moto()}" in message and "supported: moto>=" in message
    assert "\n" not in message and missing.value.exit_code == 2
    with pytest.raises(compat.UnsupportedMotoError, match=r"takes \(spec, extra\), expected"):
        compat.original(_Target, "method", "request")


def test_athena_model_of_either_botocore_generation_declares_both_protocols() -> None:
    rest = {
        "metadata": {"protocol": "rest-json", "protocols": ["rest-json"]},
        "operations": {
            "CreateWorkGroup": {"http": {"method": "POST", "requestUri": "/workgroups"}}
        },
    }
    out = athena_model_both_protocols(rest)
    assert out["metadata"]["protocols"] == ["rest-json", "json"]
    assert out["metadata"]["targetPrefix"] == "AmazonAthena"
    assert rest["metadata"]["protocols"] == ["rest-json"]  # botocore's own copy untouched
    old = {
        "metadata": {"protocol": "json", "targetPrefix": "AmazonAthena", "jsonVersion": "1.1"},
        "operations": {"CreateWorkGroup": {"http": {"method": "POST", "requestUri": "/"}}},
    }
    # no paths in a json-only model: rest-json cannot be routed from it
    assert athena_model_both_protocols(old)["metadata"]["protocols"] == ["json"]
