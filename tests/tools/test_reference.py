"""tools/reference.py: the manual's reference pages are what the code says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import reference  # noqa: E402


def test_the_committed_reference_pages_are_current() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr


def test_every_verb_and_option_is_on_the_cli_page() -> None:
    page = reference.cli_page()
    for heading in ("`ddbstream up`", "`ddbstream dlq replay`", "`ddbstream audit query`"):
        assert f" {heading}\n" in page
    assert "| `--state-dir` `STATE_DIR` |" in page
    assert "| 130 | interrupted (Ctrl-C) |" in page


def test_every_terraform_variable_and_output_is_on_the_terraform_page() -> None:
    import re

    page = reference.terraform_page()
    for tf in ("terraform/variables.tf", "terraform/modules/ddbstream/variables.tf"):
        for name in re.findall(r'^variable "([a-z0-9_]+)"', (ROOT / tf).read_text(), re.M):
            assert f"| `{name}` |" in page, name
    for tf in ("terraform/outputs.tf", "terraform/modules/ddbstream/outputs.tf"):
        for name in re.findall(r'^output "([a-z0-9_]+)"', (ROOT / tf).read_text(), re.M):
            assert f"| `{name}` |" in page, name
    assert '| `environment` | `string` | `"development"` |' in page
