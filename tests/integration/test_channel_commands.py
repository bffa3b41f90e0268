"""The channel tasks from the command line: exit codes, one-line errors, --dry-run writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, write_project
from tests.integration.channel_helpers import make_ledger

pytestmark = pytest.mark.integration


def _invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_project(tmp_path, 'name = "opencode"\npackage = "src"\ndist-dir = "dist"\n[channels]\nroot = "public"\n')
    make_ledger(tmp_path / "dist", "1.4.0", b"archive")
    return tmp_path


def test_publish_dry_run_writes_nothing_then_publish_and_yank(project: Path) -> None:
    dry = _invoke("publish", "--project", str(project), "--snapshot", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["would_publish_to"][0] == "stable" and "opencode-1.4.0-linux-x86_64-gnu.tar.gz" in plan["files"]
    assert not (project / "public").exists() and not (project / ".opencode-release").exists()

    done = _invoke("publish", "--project", str(project), "--snapshot", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "published"

    no_reason = _invoke("yank", "1.4.0", "--project", str(project), "--snapshot")
    assert no_reason.returncode == 2
    assert no_reason.stderr.strip() == "error: yank 1.4.0: --reason is required; say why, people and clients read it"
    missing = _invoke("yank", "9.9.9", "--reason", "x", "--project", str(project), "--snapshot", "--channel", "stable")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: 9.9.9: not published in stable; nothing to yank"
    yanked = _invoke("yank", "1.4.0", "--reason", "bad build", "--project", str(project), "--snapshot", "--json")
    assert json.loads(yanked.stdout)["status"] == "yanked"
    index = json.loads((project / "public/stable/index.json").read_text())
    assert (index["releases"][0]["yanked"], index["releases"][0]["yanked_reason"]) == (True, "bad build")


def test_real_publish_without_keys_fails_with_one_line(project: Path) -> None:
    proc = _invoke("publish", "--project", str(project))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"error: TUF root key: not found at {project}/.opencode-release/tuf-keys/root.pem nor in "
        "$OPENCODE_RELEASE_TUF_ROOT_KEY; real releases read keys from signing.keys-dir or the environment"
    )
    assert not (project / "public/metadata").exists()
