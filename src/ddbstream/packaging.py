"""``ddbstream package``: the Lambda deployment zip, built reproducibly.

The zip holds the ``ddbstream`` package's source as the function needs it: everything under
``ddbstream/`` except the local stack (``ddbstream/local/``), the command line
(``ddbstream/cli/``), the operations verbs (``ddbstream/ops/``), the test data builders
(``ddbstream/testing/``), this module and compiled files. The same source always gives the
same bytes: entries sorted, timestamps fixed at 1980-01-01 00:00:00 (the earliest a zip can
hold), permissions fixed at 0644, one compression level. So Terraform's ``source_code_hash``
(``filebase64sha256`` of the zip) changes only when the code does, and an unchanged package is
never redeployed.

The function needs no third-party code: boto3 comes with the Lambda Python runtime. The zip
holds source only, so it runs on any Python from 3.11 (the local runtime) to the 3.12/3.13
Lambda runtimes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ddbstream.errors import UserError

PACKAGE = "ddbstream"
DEFAULT_OUTPUT = Path("build") / "ddbstream-lambda.zip"

#: Fixed metadata of every entry.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
COMPRESSION = zipfile.ZIP_DEFLATED
COMPRESS_LEVEL = 9

#: Paths (relative to the package directory, POSIX form) left out of the function's zip.
#: Directories are left out at the top level (``local/``, ``cli/``, ``ops/``, ``testing/``) or
#: anywhere (``__pycache__``).
EXCLUDED_TOP_DIRS = frozenset({"local", "cli", "ops", "testing"})
EXCLUDED_DIRS = frozenset({"__pycache__"})
EXCLUDED_FILES = frozenset({"packaging.py"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


class PackagingError(UserError):
    """The package cannot be built; the message says why."""


@dataclass(frozen=True)
class PackageInfo:
    """A built zip: where it is, its size and hashes (``base64_sha256`` is what Terraform's
    ``filebase64sha256`` and so ``source_code_hash`` compare)."""

    path: Path
    size: int
    sha256: str
    base64_sha256: str
    entries: tuple[str, ...]

    def __fspath__(self) -> str:
        return str(self.path)


def package_source_dir() -> Path:
    """The directory of the ``ddbstream`` package being run (``src/ddbstream`` in a checkout)."""
    import ddbstream

    return Path(ddbstream.__file__).resolve().parent


def _included(rel: PurePosixPath) -> bool:
    if any(part in EXCLUDED_DIRS or part.startswith(".") for part in rel.parts):
        return False
    if len(rel.parts) > 1 and rel.parts[0] in EXCLUDED_TOP_DIRS:
        return False
    if len(rel.parts) == 1 and rel.name in EXCLUDED_FILES:
        return False
    return not rel.name.endswith(EXCLUDED_SUFFIXES)


def collect(source: Path) -> list[tuple[str, Path]]:
    """``(name in the zip, file)`` for every file of the package to ship, sorted by name."""
    if not (source / "__init__.py").is_file():
        raise PackagingError(f"{source} is not the ddbstream package (no __init__.py)")
    if not (source / "handler.py").is_file():
        raise PackagingError(
            f"{source / 'handler.py'} is missing: the Lambda handler "
            "ddbstream.handler.lambda_handler would not import"
        )
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(source):
        top = Path(dirpath) == source
        dirnames[:] = [
            d
            for d in dirnames
            if d not in EXCLUDED_DIRS
            and not d.startswith(".")
            and not (top and d in EXCLUDED_TOP_DIRS)
        ]
        for name in filenames:
            path = Path(dirpath) / name
            rel = PurePosixPath(path.relative_to(source).as_posix())
            if _included(rel) and path.is_file():
                found.append((f"{PACKAGE}/{rel}", path))
    return sorted(found)


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.compress_type = COMPRESSION
    info.create_system = 3  # Unix, so external_attr carries the mode everywhere
    info.external_attr = FILE_MODE << 16
    return info


def build(
    output: str | os.PathLike[str] = DEFAULT_OUTPUT, source: Path | None = None
) -> PackageInfo:
    """Write the zip to ``output`` (replacing it atomically) and describe it."""
    src = Path(source) if source is not None else package_source_dir()
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = collect(src)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w", compression=COMPRESSION, compresslevel=COMPRESS_LEVEL) as zf:
            for name, path in files:
                # Line endings and content are shipped as they are; only metadata is normalised.
                zf.writestr(_zip_info(name), path.read_bytes(), compresslevel=COMPRESS_LEVEL)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    data = out.read_bytes()
    digest = hashlib.sha256(data).digest()
    return PackageInfo(
        path=out,
        size=len(data),
        sha256=digest.hex(),
        base64_sha256=base64.b64encode(digest).decode("ascii"),
        entries=tuple(name for name, _ in files),
    )


def cmd_package(args: argparse.Namespace) -> int:
    """``ddbstream package [-o PATH]``: build the zip, print where it is and its hashes."""
    output = getattr(args, "output", None) or DEFAULT_OUTPUT
    try:
        info = build(output)
    except (PackagingError, OSError) as exc:
        raise UserError(f"package: {exc}") from exc
    print(f"path:           {info.path}")
    print(f"size:           {info.size} bytes ({len(info.entries)} files)")
    print(f"sha256:         {info.sha256}")
    print(f"base64 sha256:  {info.base64_sha256}  (Terraform source_code_hash)")
    return 0
