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


def _uv() -> str:
    """The uv the Makefile installed (.venv-uv), else one on PATH or beside this Python."""
    import shutil
    import sys

    for candidate in (ROOT / ".venv-uv/bin/uv", Path(sys.executable).parent / "uv"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("uv")
    assert found, "uv not found: run `make venv`"
    return found


@pytest.mark.slow
def test_up_on_a_moto_the_patches_do_not_know_stops_with_one_line_exit_2(
    tmp_path: Path,
) -> None:
    """moto 5.1.0 really installed (a venv of its own in front of this one's packages): `up`,
    in the foreground and with --detach, stops before starting anything, with one line naming
    the installed and the supported versions, exit 2 (issue 21: not a 404 from Terraform)."""
    import os
    import subprocess
    import sys
    import sysconfig

    venv = tmp_path / "old-moto"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # this venv's packages after its own: its moto 5.1.0 shadows the locked one
    project_site = sysconfig.get_paths()["purelib"]  # with its .pth files (the editable install)
    Path(site, "zz-project.pth").write_text(f"import site; site.addsitedir({project_site!r})\n")
    subprocess.run(
        [_uv(), "pip", "install", "-q", "--no-deps", "--python", str(python), "moto==5.1.0"],
        check=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for extra in ([], ["--detach"]):
        state_dir = tmp_path / f"state{len(extra)}"
        up = [str(python), "-m", "ddbstream.cli", "up", "--port", "0"]
        run = subprocess.run(
            [*up, "--state-dir", str(state_dir), *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert run.returncode == 2, (extra, run.stdout, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
        assert "moto 5.1.0 is installed" in lines[0]
        assert f"supports moto{compat.supported_moto()}" in lines[0]
        assert not (state_dir / "stack.json").exists()
