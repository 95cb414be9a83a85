"""The terraform driver's offline plumbing: mirror discovery, the CLI config, the workdir. No
terraform binary needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ddbstream.local import terraform as tf

STACK = Path(__file__).resolve().parents[2] / "terraform"


def _fake_mirror(root: Path, version: str = "5.100.0") -> Path:
    plat = root / tf.PROVIDER_ADDRESS / version / "linux_amd64"
    plat.mkdir(parents=True)
    (plat / f"terraform-provider-aws_v{version}_x5").write_bytes(b"")
    return root


def test_named_mirror_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = _fake_mirror(tmp_path / "m")
    monkeypatch.setenv(tf.MIRROR_ENV, str(mirror))
    assert tf.find_provider_mirror(search_roots=[]) == mirror.resolve()


def test_named_path_that_is_no_mirror_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tf.MIRROR_ENV, str(tmp_path))
    with pytest.raises(tf.TerraformError, match="not a provider mirror"):
        tf.find_provider_mirror()


def test_mirror_is_found_a_few_levels_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tf.MIRROR_ENV, raising=False)
    (tmp_path / "a" / "unrelated").mkdir(parents=True)
    mirror = _fake_mirror(tmp_path / "b" / "plugins")
    assert tf.find_provider_mirror(search_roots=[str(tmp_path)]) == mirror.resolve()
    assert tf.find_provider_mirror(search_roots=[str(tmp_path / "a")]) is None


def test_cli_config_installs_aws_from_the_mirror_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = _fake_mirror(tmp_path / "m")
    monkeypatch.setenv(tf.MIRROR_ENV, str(mirror))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "does-not-exist.rc"))
    rc = tf.cli_config(tmp_path / "state")
    assert rc == tmp_path / "state" / "terraform.rc"
    text = rc.read_text()
    assert f'path    = "{mirror.resolve()}"' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text
    assert "filesystem_mirror" in text and "direct" in text


def test_an_existing_cli_config_is_respected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "mine.rc"
    own.write_text("# the user's own\n")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(own))
    assert tf.cli_config(tmp_path / "state") == own
    assert tf.terraform_env()["TF_CLI_CONFIG_FILE"] == str(own)
    assert own.read_text() == "# the user's own\n"


def test_no_mirror_means_terraform_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(tf.MIRROR_ENV, raising=False)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.rc"))
    monkeypatch.setattr(tf, "_MIRROR_SEARCH_ROOTS", (str(tmp_path / "nowhere"),))
    assert tf.cli_config(tmp_path / "state") is None
    env = tf.terraform_env()
    assert "TF_CLI_CONFIG_FILE" not in env  # a missing file would only make terraform warn
    assert env["TF_IN_AUTOMATION"] == "1"


def test_workdir_links_the_stack_and_overrides_only_the_copy(tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in STACK.iterdir() if p.is_file()}
    wd = tf.prepare_workdir(tmp_path / "wd", "http://127.0.0.1:4566", {"environment": "x"})
    linked = {p.name for p in wd.glob("*.tf") if p.is_symlink()}
    assert linked == {p.name for p in STACK.glob("*.tf")}
    # The root calls ./modules/ddbstream: the module must resolve from the workdir too.
    assert (wd / "modules").is_symlink()
    assert (wd / "modules").resolve() == (STACK / "modules").resolve()
    assert (wd / "modules" / "ddbstream" / "versions.tf").is_file()
    override = (wd / tf.OVERRIDE_FILE).read_text()
    compact = override.replace(" ", "")
    for svc in tf.ENDPOINT_SERVICES:
        assert f'{svc}="http://127.0.0.1:4566"' in compact, svc
    for flag in ("skip_credentials_validation", "skip_metadata_api_check", "s3_use_path_style"):
        assert f"{flag} = true" in " ".join(override.split())
    # Not skipped: the emulator's STS gives the account id the provider builds ARNs from.
    assert "skip_requesting_account_id  =" not in override
    assert 'backend "local"' in override
    assert (wd / tf.VARIABLES_FILE).read_text().strip().startswith("{")
    # terraform/ itself is untouched: same files, same bytes, no override, no state.
    assert {p.name: p.read_bytes() for p in STACK.iterdir() if p.is_file()} == before
    assert not (STACK / tf.OVERRIDE_FILE).exists()


def test_workdir_drops_files_no_longer_in_the_stack(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "a.tf").write_text("")
    (stack / "b.tf").write_text("")
    wd = tf.prepare_workdir(tmp_path / "wd", stack=stack)
    (stack / "b.tf").unlink()
    tf.prepare_workdir(wd, stack=stack)
    assert sorted(p.name for p in wd.glob("*.tf")) == ["a.tf"]


def test_check_tree_mirrors_the_root_and_every_example(tmp_path: Path) -> None:
    configs = tf.prepare_check_tree(tmp_path / "check")
    root = (tmp_path / "check").resolve()
    examples = sorted(d.name for d in (STACK / "examples").iterdir() if any(d.glob("*.tf")))
    assert len(examples) >= 2
    assert configs == [root] + [root / "examples" / name for name in examples]
    for name in examples:
        wd = root / "examples" / name
        assert {p.name for p in wd.glob("*.tf")} == {
            p.name for p in (STACK / "examples" / name).glob("*.tf")
        }
        # Each example calls ../../modules/ddbstream, which resolves inside the mirror.
        assert (wd / "../../modules/ddbstream/main.tf").resolve() == (
            STACK / "modules" / "ddbstream" / "main.tf"
        ).resolve()
    # An example removed from terraform/examples/ leaves the mirror on the next run.
    (root / "examples" / "gone").mkdir()
    assert tf.prepare_check_tree(tmp_path / "check") == configs
    assert not (root / "examples" / "gone").exists()


def test_the_stack_itself_is_refused_as_a_workdir() -> None:
    with pytest.raises(tf.TerraformError, match="refusing"):
        tf.prepare_workdir(STACK)


def test_cli_prints_the_config_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    own = tmp_path / "mine.rc"
    own.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(own))
    assert tf.main(["cli-config"]) == 0
    assert capsys.readouterr().out.strip() == str(own)


def test_init_is_redone_only_after_the_stack_changes(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "versions.tf").write_text("")
    wd = tf.prepare_workdir(tmp_path / "wd", stack=stack)
    assert not tf._initialised(wd)
    (wd / ".terraform").mkdir()
    (wd / ".terraform.lock.hcl").write_text("")
    (wd / tf._INIT_STAMP).touch()
    os.utime(stack / "versions.tf", (1_000_000_000, 1_000_000_000))
    assert tf._initialised(wd)
    (stack / "versions.tf").write_text("# a new provider constraint\n")
    assert not tf._initialised(wd)
