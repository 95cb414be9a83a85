"""Run the project's Terraform stack (``terraform/``) from Python, offline when need be.

What this module does, and what it never does:

* It finds the ``hashicorp/aws`` provider in a local *filesystem mirror* when one is installed
  (``DDBSTREAM_TF_MIRROR=/path`` names it; otherwise the usual plugin directories are searched),
  and writes a Terraform CLI configuration that installs that provider from the mirror and
  everything else from the network. An existing ``TF_CLI_CONFIG_FILE`` is respected. With no
  mirror, Terraform downloads the provider as usual.
* It prepares a *working directory* for a run against the emulator: symlinks to the stack's
  ``.tf`` files, a generated ``local_override.tf`` (every endpoint -> the emulator, dummy
  credentials, the local backend) and a variables file. State lives in that directory only, so
  a local run can never touch the state of a real deployment. ``terraform/`` is never written.
* ``init``, ``apply``, ``plan``, ``outputs`` and ``destroy`` run the ``terraform`` binary and raise
  :class:`TerraformError` (with Terraform's own error output) when it fails.

Command line (used by the Makefile)::

    python -m ddbstream.local.terraform cli-config     # print the CLI config path ('' = none)
    python -m ddbstream.local.terraform mirror         # print the provider mirror ('' = none)
    python -m ddbstream.local.terraform workdir DIR    # symlink the stack into DIR, print DIR
    python -m ddbstream.local.terraform check-tree DIR # mirror root, modules, examples; print each
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ddbstream.local import emulator  # moto itself is imported only when a server starts

PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
MIRROR_ENV = "DDBSTREAM_TF_MIRROR"
OVERRIDE_FILE = "local_override.tf"
VARIABLES_FILE = "ddbstream.auto.tfvars.json"
STATE_FILE = "terraform.tfstate"
MODULES_DIR = "modules"
EXAMPLES_DIR = "examples"

# Provider `endpoints` keys of every service the stack uses (and the optional Glue/Athena ones).
ENDPOINT_SERVICES: tuple[str, ...] = (
    "appautoscaling",
    "athena",
    "cloudwatch",
    "dynamodb",
    "ec2",
    "glue",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "sns",
    "sqs",
    "sts",
)

# Where Terraform itself looks for implied local mirrors, plus common install locations.
_MIRROR_SEARCH_ROOTS: tuple[str, ...] = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt",
    "/usr/local/share",
    "/usr/local/lib",
    "/srv",
)
_MIRROR_SEARCH_DEPTH = 4

OnLine = Callable[[str], None]


class TerraformError(RuntimeError):
    """A terraform command failed; ``stderr`` holds Terraform's own error output."""

    def __init__(
        self, command: Sequence[str], returncode: int, stderr: str, hint: str = ""
    ) -> None:
        self.command = list(command)
        self.returncode = returncode
        self.stderr = stderr
        text = f"`{' '.join(self.command)}` failed (exit {returncode})"
        if hint:
            text += f": {hint}"
        if stderr.strip():
            text += "\n" + stderr.strip()
        super().__init__(text)


# --------------------------------------------------------------------------------------------
# Locations
# --------------------------------------------------------------------------------------------


def project_root() -> Path:
    """The repository root: the nearest directory above this file with terraform/ (an editable
    install: the checkout the running code comes from), else above the working directory.

    The package first, so the .tf files, the Lambda zip and the state directory all come from
    the checkout whose code is running."""
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for d in (start, *start.parents):
            if (d / "terraform" / "versions.tf").is_file():
                return d
    raise TerraformError(
        ["terraform"], 1, "", "cannot find the project's terraform/ directory (run from the repo)"
    )


def stack_dir() -> Path:
    """The Terraform stack, ``<project>/terraform``."""
    return project_root() / "terraform"


def state_root() -> Path:
    """The project-local directory for generated files, ``<project>/.ddbstream``."""
    return project_root() / ".ddbstream"


def terraform_binary() -> str:
    found = shutil.which("terraform")
    if not found:
        raise TerraformError(
            ["terraform"], 127, "", "terraform is not on PATH (install Terraform 1.9 or newer)"
        )
    return found


# --------------------------------------------------------------------------------------------
# Provider mirror and CLI configuration
# --------------------------------------------------------------------------------------------


def _is_mirror(root: Path) -> bool:
    """True if ``root`` is a filesystem mirror holding some version of hashicorp/aws."""
    provider = root / PROVIDER_ADDRESS
    if not provider.is_dir():
        return False
    # Unpacked layout: <version>/<os>_<arch>/terraform-provider-aws*; packed: *.zip files.
    return any(provider.glob("*/*/terraform-provider-aws*")) or any(provider.glob("*.zip"))


def _search(root: Path, depth: int) -> Path | None:
    """Breadth first, so a mirror near the top is found before big unrelated trees are read."""
    level = [root]
    for _ in range(depth + 1):
        below: list[Path] = []
        for d in level:
            if _is_mirror(d):
                return d
            try:
                below.extend(sorted(p for p in d.iterdir() if p.is_dir() and not p.is_symlink()))
            except OSError:
                continue
        level = below
    return None


def find_provider_mirror(search_roots: Iterable[str] | None = None) -> Path | None:
    """The directory of a filesystem mirror with hashicorp/aws, or None when there is none.

    ``DDBSTREAM_TF_MIRROR`` wins (and must be a mirror); otherwise Terraform's implied mirror
    directories and a few install locations are searched a few levels deep.
    """
    named = os.environ.get(MIRROR_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        if not _is_mirror(path):
            raise TerraformError(
                ["terraform"],
                1,
                "",
                f"{MIRROR_ENV}={named} is not a provider mirror: expected "
                f"{path / PROVIDER_ADDRESS}/<version>/<os>_<arch>/terraform-provider-aws*",
            )
        return path.resolve()
    for raw in search_roots if search_roots is not None else _MIRROR_SEARCH_ROOTS:
        root = Path(raw).expanduser()
        if root.is_dir():
            found = _search(root, _MIRROR_SEARCH_DEPTH)
            if found is not None:
                return found.resolve()
    return None


def _hcl_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid HCL string literal


def render_cli_config(mirror: Path) -> str:
    return (
        "# Generated by ddbstream.local.terraform: hashicorp/aws from the local mirror,\n"
        "# every other provider from the network. Delete it to use the registry.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {_hcl_string(str(mirror))}\n"
        f"    include = [{_hcl_string(PROVIDER_ADDRESS)}]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [{_hcl_string(PROVIDER_ADDRESS)}]\n"
        "  }\n"
        "}\n"
    )


def cli_config(root: Path | None = None) -> Path | None:
    """The CLI configuration terraform should use, or None for Terraform's defaults.

    * ``TF_CLI_CONFIG_FILE`` naming an existing file: that file, untouched.
    * a provider mirror found (see :func:`find_provider_mirror`): a generated file
      ``<root>/terraform.rc`` that installs hashicorp/aws from it.
    * otherwise None: terraform installs providers from the registry (needs the internet).
    """
    existing = os.environ.get("TF_CLI_CONFIG_FILE", "").strip()
    if existing and Path(existing).expanduser().is_file():
        return Path(existing).expanduser()
    mirror = find_provider_mirror()
    if mirror is None:
        return None
    root = root if root is not None else state_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / "terraform.rc"
    text = render_cli_config(mirror)
    if not path.is_file() or path.read_text() != text:
        # Atomically: a terraform started meanwhile (another stack, a parallel test) reads the
        # old file or the new one, never a half-written one.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


def terraform_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a terraform subprocess: the CLI config, no prompts, no telemetry."""
    env = dict(os.environ)
    rc = cli_config()
    if rc is not None:
        env["TF_CLI_CONFIG_FILE"] = str(rc)
    else:
        # A TF_CLI_CONFIG_FILE that names a missing file only produces a warning on every call.
        env.pop("TF_CLI_CONFIG_FILE", None)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    env.pop("TF_WORKSPACE", None)
    if extra:
        env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# The working directory of a local run
# --------------------------------------------------------------------------------------------


def render_override(endpoint: str, region: str, access_key: str, secret_key: str) -> str:
    """``local_override.tf``: the provider pointed at ``endpoint``, state kept locally.
    Refused for a non-loopback endpoint unless DDBSTREAM_ALLOW_NON_LOOPBACK=1."""
    from ddbstream.local.emulator import require_loopback

    require_loopback(endpoint, "run Terraform with the local stack's override")
    endpoints = "\n".join(f"    {svc:<10} = {_hcl_string(endpoint)}" for svc in ENDPOINT_SERVICES)
    return f"""# Generated by ddbstream.local.terraform for a run against the local emulator.
# Never copy this into terraform/: it points every AWS API at {endpoint}.

terraform {{
  # The state of a local run stays in this directory, whatever backend terraform/ declares.
  backend "local" {{
    path = "{STATE_FILE}"
  }}
}}

provider "aws" {{
  region     = {_hcl_string(region)}
  access_key = {_hcl_string(access_key)}
  secret_key = {_hcl_string(secret_key)}

  # The account id is asked of the emulator's STS (GetCallerIdentity), not skipped: with
  # skip_requesting_account_id the provider builds some ARNs with an empty account (Glue's,
  # for tags) and every later plan shows drift.
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}
"""


def _link_stack(stack: Path, workdir: Path) -> None:
    """Symlink ``stack``'s ``*.tf`` files and its ``modules/`` directory into ``workdir``."""
    wanted = {p.name: p for p in sorted(stack.glob("*.tf")) if not p.name.endswith("_override.tf")}
    for existing in workdir.glob("*.tf"):
        if existing.name == OVERRIDE_FILE:
            continue
        if existing.name not in wanted or not existing.is_symlink():
            existing.unlink()
    for name, src in wanted.items():
        _link(src, workdir / name)
    # The root calls its module by a relative path (./modules/ddbstream), so the workdir needs
    # the modules beside the root's files.
    if (stack / MODULES_DIR).is_dir():
        _link(stack / MODULES_DIR, workdir / MODULES_DIR)


def _link(src: Path, dst: Path) -> None:
    """``dst`` a symlink to ``src`` (a file or a directory), replaced if it points elsewhere."""
    if dst.is_symlink() and dst.resolve() == src.resolve():
        return
    if dst.is_symlink() or dst.is_file():
        dst.unlink()
    elif dst.is_dir():
        shutil.rmtree(dst)
    try:
        dst.symlink_to(src.resolve(), target_is_directory=src.is_dir())
    except OSError:  # filesystems without symlinks: a copy, refreshed on every run
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


def prepare_check_tree(tree: str | os.PathLike[str]) -> list[Path]:
    """Mirror ``terraform/`` into ``tree`` for ``make tf-check``: the root's files, ``modules/``
    and each ``examples/NAME/``'s files as symlinks, so ``init`` and ``validate`` write their
    ``.terraform/`` and lock files there and never into ``terraform/``. The examples call the
    module as ``../../modules/ddbstream``, which resolves in the mirror as in the repository.

    Returns the configurations to validate: the root, then every example (sorted).
    """
    root = Path(tree).resolve()
    root.mkdir(parents=True, exist_ok=True)
    src = stack_dir()
    if root == src:
        raise TerraformError(["terraform"], 1, "", f"refusing to use {src} itself as a workdir")
    _link_stack(src, root)
    configs = [root]
    examples = src / EXAMPLES_DIR
    wanted = (
        {d.name for d in examples.iterdir() if d.is_dir() and any(d.glob("*.tf"))}
        if examples.is_dir()
        else set()
    )
    mirror = root / EXAMPLES_DIR
    if mirror.is_dir():
        for stale in mirror.iterdir():
            if stale.name in wanted:
                continue
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
            else:
                stale.unlink()
    for name in sorted(wanted):
        wd = mirror / name
        wd.mkdir(parents=True, exist_ok=True)
        _link_stack(examples / name, wd)
        configs.append(wd)
    return configs


def prepare_workdir(
    workdir: str | os.PathLike[str],
    endpoint: str | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    region: str | None = None,
    stack: str | os.PathLike[str] | None = None,
) -> Path:
    """Create or refresh ``workdir``: the stack's ``.tf`` files, and for a local run the override.

    ``endpoint`` None writes no ``local_override.tf`` (one written before stays). ``variables``
    (when given) are written to ``ddbstream.auto.tfvars.json``, which plan, apply and destroy
    all read, so a destroy sees the same inputs as the apply.
    """
    wd = Path(workdir).resolve()
    wd.mkdir(parents=True, exist_ok=True)
    src = Path(stack).resolve() if stack is not None else stack_dir()
    if wd == src:
        raise TerraformError(["terraform"], 1, "", f"refusing to use {src} itself as a workdir")
    _link_stack(src, wd)
    if endpoint is not None:
        text = render_override(
            endpoint, region or emulator.REGION, emulator.ACCESS_KEY, emulator.SECRET_KEY
        )
        _write_if_changed(wd / OVERRIDE_FILE, text)
    if variables is not None:
        text = json.dumps(dict(variables), indent=2, sort_keys=True) + "\n"
        _write_if_changed(wd / VARIABLES_FILE, text)
    return wd


def _write_if_changed(path: Path, text: str) -> None:
    """Unchanged content keeps its mtime, so ``init`` is not re-run for nothing."""
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


# --------------------------------------------------------------------------------------------
# Running terraform
# --------------------------------------------------------------------------------------------


def run(
    workdir: str | os.PathLike[str],
    *args: str,
    on_line: OnLine | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    ok_codes: Sequence[int] = (0,),
) -> subprocess.CompletedProcess[str]:
    """Run ``terraform -chdir=workdir ARGS``; stdout lines go to ``on_line`` as they come."""
    cmd = [terraform_binary(), f"-chdir={Path(workdir)}", *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=dict(env) if env is not None else terraform_env(),
    )
    err_chunks: list[str] = []
    # Drain stderr on a thread so a chatty stderr cannot block stdout (or the reverse).
    t = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    t.start()
    out_lines: list[str] = []
    for line in proc.stdout:  # type: ignore[union-attr]
        out_lines.append(line)
        if on_line is not None:
            on_line(line.rstrip("\n"))
    proc.wait()
    t.join()
    result = subprocess.CompletedProcess(
        cmd, proc.returncode, "".join(out_lines), "".join(err_chunks)
    )
    if check and result.returncode not in ok_codes:
        raise TerraformError(
            cmd[:1] + list(args), result.returncode, result.stderr or result.stdout
        )
    return result


_INIT_STAMP = ".terraform/ddbstream-init.stamp"


def _initialised(workdir: Path) -> bool:
    """True if ``init`` ran after the last change to any .tf file of the workdir."""
    stamp = workdir / _INIT_STAMP
    if not stamp.is_file() or not (workdir / ".terraform.lock.hcl").is_file():
        return False
    done = stamp.stat().st_mtime
    return all(p.stat().st_mtime <= done for p in workdir.glob("*.tf"))  # follows symlinks


def init(
    workdir: str | os.PathLike[str], *, on_line: OnLine | None = None, force: bool = False
) -> None:
    """``terraform init`` in ``workdir``; skipped when it already ran after the last change to
    the stack's files (a changed provider constraint or backend is re-initialised)."""
    wd = Path(workdir)
    if force or not _initialised(wd):
        run(wd, "init", "-input=false", "-no-color", on_line=on_line)
        (wd / _INIT_STAMP).touch()


def _apply_args(parallelism: int | None) -> list[str]:
    return [f"-parallelism={parallelism}"] if parallelism else []


def apply(
    workdir: str | os.PathLike[str],
    endpoint: str | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    on_line: OnLine | None = None,
    parallelism: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Prepare ``workdir``, init, ``terraform apply -auto-approve``; return the outputs (as
    :func:`outputs` gives them).

    ``endpoint`` is the emulator's URL; None keeps the workdir as it was prepared (its
    override, if any, stays). ``variables`` None keeps the workdir's variables file.
    """
    wd = prepare_workdir(workdir, endpoint, variables)
    init(wd, on_line=on_line)
    run(
        wd,
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        *_apply_args(parallelism),
        on_line=on_line,
    )
    return outputs(wd)


def plan(
    workdir: str | os.PathLike[str],
    *,
    out: str = "tfplan",
    extra_args: Sequence[str] = (),
    on_line: OnLine | None = None,
) -> bool:
    """``terraform plan -out=OUT``; True when the plan has changes (``-detailed-exitcode``)."""
    result = run(
        workdir,
        "plan",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
        f"-out={out}",
        *extra_args,
        on_line=on_line,
        ok_codes=(0, 2),
    )
    return result.returncode == 2


def show_json(workdir: str | os.PathLike[str], planfile: str | None = None) -> dict[str, Any]:
    """``terraform show -json [PLANFILE]`` parsed."""
    args = ["show", "-json", "-no-color"] + ([planfile] if planfile else [])
    return json.loads(run(workdir, *args).stdout)  # type: ignore[no-any-return]


def outputs(workdir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The stack's outputs from the workdir's state, as ``terraform output -json`` gives them:
    ``{name: {"value": ..., "type": ..., "sensitive": ...}}``."""
    found: dict[str, dict[str, Any]] = json.loads(
        run(workdir, "output", "-json", "-no-color").stdout or "{}"
    )
    return found


def values_of(found: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{name: value}`` of outputs in ``terraform output -json`` form."""
    return {name: item.get("value") for name, item in found.items()}


def destroy(
    workdir: str | os.PathLike[str],
    *,
    on_line: OnLine | None = None,
    parallelism: int | None = None,
) -> None:
    """``terraform destroy -auto-approve`` of the workdir's state (same variables as the apply)."""
    wd = Path(workdir)
    if not (wd / STATE_FILE).is_file():
        return
    init(wd, on_line=on_line)
    run(
        wd,
        "destroy",
        "-auto-approve",
        "-input=false",
        "-no-color",
        *_apply_args(parallelism),
        on_line=on_line,
    )


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ddbstream.local.terraform", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("cli-config", help="print the path of the CLI config to use ('' = defaults)")
    sub.add_parser("mirror", help="print the hashicorp/aws mirror directory ('' = none found)")
    p = sub.add_parser("workdir", help="symlink terraform/*.tf into DIR (no override), print DIR")
    p.add_argument("dir")
    p = sub.add_parser(
        "check-tree",
        help="mirror terraform/ (root, modules, examples) into DIR as symlinks; print each "
        "configuration to validate, one a line",
    )
    p.add_argument("dir")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "cli-config":
            rc = cli_config()
            print(rc if rc is not None else "")
        elif args.cmd == "mirror":
            mirror = find_provider_mirror()
            print(mirror if mirror is not None else "")
        elif args.cmd == "check-tree":
            print("\n".join(str(p) for p in prepare_check_tree(args.dir)))
        else:
            print(prepare_workdir(args.dir))
    except TerraformError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
