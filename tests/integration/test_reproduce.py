"""`reproduce`: a release rebuilt from its recorded commit in a clean checkout matches; one built from a changed
source file does not, and diffoscope shows the change.

The releases here are what a rebuild makes without compiling (wheel, sdist, checksums, SBOMs and their
statements, the release statement), so each test takes seconds; the Nuitka binary's rebuild is the same
code path with `build` among the stages (docs/reproduce.md says what is compared).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from opencode_release.core import config
from opencode_release.core.ledger import Ledger
from opencode_release.release import pipeline, session
from tests.conftest import PRODUCT
from tests.integration.image_helpers import cli

pytestmark = pytest.mark.integration
STAGES = ("python-dists", "checksum", "sbom", "release-statement")
CHANGED = "src/opencode_cli/cli.py"


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args]
    return subprocess.run(command, cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def _repository(root: Path) -> Path:
    """A git repository holding a copy of the sample product, committed; returns the product folder."""
    repo = root / "repo"
    ignored = shutil.ignore_patterns("dist", "build", "*.egg-info", "__pycache__")
    shutil.copytree(PRODUCT, repo / "product", ignore=ignored)
    (repo / ".gitignore").write_text("dist/\n.opencode-release/\n", encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "the release's commit")
    return repo / "product"


def _release(product: Path) -> Ledger:
    ctx, _ = session.run(
        config.load(product / "pyproject.toml"), pipeline.stages_named(STAGES), session.Request(quiet=True)
    )
    return ctx.ledger


def _reproduce(product: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = cli("reproduce", "--version", "1.4.0", "--project", str(product), "--json", *extra)
    return done.returncode, json.loads(done.stdout)


def test_a_release_rebuilt_from_its_commit_matches_file_for_file(tmp_path: Path) -> None:
    product = _repository(tmp_path)
    release = _release(product)
    recorded = release.path.read_bytes()
    code, report = _reproduce(product)
    assert code == 0, report
    rows = {r["path"]: r for r in report["artifacts"]}
    rebuilt_kinds = {"wheel", "sdist", "checksums", "sbom", "attestation"}
    assert {a.path for a in release.artifacts if a.kind in rebuilt_kinds} == {
        p for p, r in rows.items() if r["status"] == "matched"
    }
    assert all(r["recorded_in"] == "release statement" for r in rows.values() if r["status"] == "matched")
    assert rows["release.intoto.json"]["status"] == "not-compared"
    assert report["source"]["commit"] == _git(product.parent, "rev-parse", "HEAD")
    assert report["stages"] == ["python-dists", "checksum", "sbom"]
    # the report is beside the releases, the release folder unchanged, the checkout gone
    assert Path(report["report"]) == product.parent / "dist" / "reproduce" / "1.4.0" / "reproduce.json"
    assert json.loads(Path(report["report"]).read_text())["ok"] is True
    assert release.path.read_bytes() == recorded
    assert not list(Path(report["report"]).parent.glob("diffs/*"))
    assert _git(product.parent, "worktree", "list").count("\n") == 0


def test_a_release_built_from_a_changed_source_file_does_not_match_and_the_diff_shows_it(tmp_path: Path) -> None:
    product = _repository(tmp_path)
    source = product / CHANGED
    source.write_text(source.read_text() + "# not in the recorded commit\n", encoding="utf-8")
    release = _release(product)  # cut from the working tree, which differs from the commit it records
    code, report = _reproduce(product)
    assert code == 1, report
    rows = {r["path"]: r for r in report["artifacts"]}
    wheel = next(a for a in release.artifacts if a.kind == "wheel")
    assert rows[wheel.path]["status"] == "mismatched"
    assert rows[wheel.path]["expected_sha256"] == wheel.sha256 != rows[wheel.path]["rebuilt_sha256"]
    diff = Path(report["report"]).parent / rows[wheel.path]["diff"]
    text = diff.read_text()
    assert "opencode_cli/cli.py" in text and "-# not in the recorded commit" in text
    assert report["ok"] is False
    # the human form names what differs, and where the diff is, in one error line
    done = cli("reproduce", "--version", "1.4.0", "--project", str(product))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "differ from the release" in errors[0] and "Traceback" not in done.stderr
    assert f"mismatched    {wheel.path}" in done.stdout


def test_dry_run_names_the_commit_and_the_files_and_builds_nothing(tmp_path: Path) -> None:
    product = _repository(tmp_path)
    _release(product)
    code, plan = _reproduce(product, "--dry-run")
    assert code == 0
    assert plan["stages"] == ["python-dists", "checksum", "sbom"] and "SHA256SUMS" in plan["would_compare"]
    assert not (product.parent / "dist" / "reproduce").exists()


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    product = _repository(tmp_path)
    code, document = _reproduce(product)  # no release 1.4.0 yet
    assert code == 2 and "no such release" in document["error"]
    release = _release(product)
    manifest = json.loads(release.path.read_text())
    manifest["source"]["commit"] = "f" * 40  # a commit the repository does not have
    release.path.write_text(json.dumps(manifest))
    code, document = _reproduce(product)
    assert code == 2 and "is not in the repository" in document["error"], document
    shutil.rmtree(product.parent / ".git")
    code, document = _reproduce(product)
    assert code == 2 and "not inside a git repository" in document["error"], document
