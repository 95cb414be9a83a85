"""``ddbstream package``: reproducible bytes, the right files, and a handler that imports from
the zip alone (as on Lambda, where only the runtime's boto3 is there besides it)."""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from ddbstream import packaging


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> packaging.PackageInfo:
    return packaging.build(tmp_path_factory.mktemp("pkg") / "ddbstream-lambda.zip")


def test_same_source_gives_the_same_bytes(built: packaging.PackageInfo, tmp_path: Path) -> None:
    again = packaging.build(tmp_path / "again.zip")
    assert again.path.read_bytes() == built.path.read_bytes()
    assert (again.sha256, again.base64_sha256) == (built.sha256, built.base64_sha256)


def test_file_metadata_does_not_change_the_bytes(
    built: packaging.PackageInfo, tmp_path: Path
) -> None:
    # A copy of the source with other timestamps and permissions, e.g. a fresh checkout.
    src = tmp_path / "ddbstream"
    shutil.copytree(packaging.package_source_dir(), src)
    for path in src.rglob("*"):
        if path.is_file():
            os.utime(path, (1_700_000_000, 1_700_000_000))
            path.chmod(0o600)
    copy = packaging.build(tmp_path / "copy.zip", source=src)
    assert copy.path.read_bytes() == built.path.read_bytes()


def test_a_changed_source_changes_the_hash(built: packaging.PackageInfo, tmp_path: Path) -> None:
    src = tmp_path / "ddbstream"
    shutil.copytree(packaging.package_source_dir(), src)
    with (src / "handler.py").open("a") as f:
        f.write("\n# changed\n")
    assert packaging.build(tmp_path / "changed.zip", source=src).sha256 != built.sha256


def test_entries_are_sorted_with_fixed_metadata(built: packaging.PackageInfo) -> None:
    with zipfile.ZipFile(built.path) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert names == list(built.entries)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert info.external_attr >> 16 == 0o100644, info.filename
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_only_the_function_code_is_shipped(built: packaging.PackageInfo) -> None:
    names = set(built.entries)
    assert {"ddbstream/__init__.py", "ddbstream/handler.py"} <= names
    assert all(n.startswith("ddbstream/") for n in names)
    assert not [n for n in names if n.startswith("ddbstream/local/")]
    for excluded in ("cli", "ops", "local", "testing"):
        assert not [n for n in names if n.startswith(f"ddbstream/{excluded}/")], excluded
    assert "ddbstream/packaging.py" not in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    # Every package directory keeps its __init__.py (zipimport and Lambda need them).
    dirs = {n.rsplit("/", 1)[0] for n in names}
    for d in dirs:
        assert f"{d}/__init__.py" in names, d


def test_reported_hashes_are_what_terraform_computes(built: packaging.PackageInfo) -> None:
    data = built.path.read_bytes()
    assert built.size == len(data)
    assert built.sha256 == hashlib.sha256(data).hexdigest()
    # Terraform's filebase64sha256(): base64 of the raw SHA-256 digest.
    assert built.base64_sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()


IMPORT_FROM_ZIP = textwrap.dedent(
    """
    import os, sys
    zip_path = sys.argv[1]
    # Only the zip provides ddbstream: drop every other path that holds the package (the
    # checkout's src/) and the editable-install finder; the rest (boto3) stays, as on Lambda.
    def holds_package(p):
        return os.path.isfile(os.path.join(p or ".", "ddbstream", "__init__.py"))
    sys.path[:] = [zip_path] + [p for p in sys.path if not holds_package(p)]
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    import ddbstream.handler as h
    assert h.__file__.startswith(zip_path), h.__file__
    assert callable(h.lambda_handler)
    local = sorted(m for m in sys.modules if m.startswith("ddbstream.local"))
    assert not local, local
    print("OK", h.__file__)
    """
)


def test_handler_imports_from_the_zip_alone(built: packaging.PackageInfo, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_FROM_ZIP, str(built.path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK " + str(built.path))


def test_cmd_package_prints_path_size_and_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub" / "fn.zip"
    assert packaging.cmd_package(argparse.Namespace(output=str(out))) == 0
    printed = capsys.readouterr().out
    digest = hashlib.sha256(out.read_bytes()).digest()
    assert str(out) in printed
    assert f"{out.stat().st_size} bytes" in printed
    assert digest.hex() in printed
    assert base64.b64encode(digest).decode() in printed


def test_cli_verb(tmp_path: Path) -> None:
    from ddbstream.cli import main

    out = tmp_path / "cli.zip"
    assert main(["package", "-o", str(out)]) == 0
    assert zipfile.is_zipfile(out)


def test_not_the_package_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(packaging.PackagingError, match=r"no __init__\.py"):
        packaging.build(tmp_path / "x.zip", source=tmp_path)
