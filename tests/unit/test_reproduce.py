"""What `reproduce` compares and refuses (release/reproduce.py, release/reproduce_compare.py), without a rebuild."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from opencode_release.core.errors import UsageError
from opencode_release.core.formats import canonical_json
from opencode_release.core.ledger import ArtifactKind, Ledger, Source
from opencode_release.release import reproduce, reproduce_compare
from opencode_release.release.reproduce_compare import compare, diffoscope, toolchain
from tests.conftest import write_project

COMMIT = "a" * 40


def _ledger(root: Path, files: Mapping[str, tuple[str, str | None, bytes]], commit: str = COMMIT) -> Ledger:
    """A ledger recording `files` (path -> kind, target, bytes), each written under `root`."""
    source = Source("https://example.org/repo", commit, "refs/tags/v1.4.0", 1767225600)
    ledger = Ledger(root, product="x", version="1.4.0", channel="stable", source=source)
    for path, (kind, target, data) in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
        ledger.record(root / path, kind, target=target)
    return ledger


RELEASE = {
    "x-linux.tar.gz": (ArtifactKind.ARCHIVE, "linux-x86_64-gnu", b"archive"),
    "x-mac.tar.gz": (ArtifactKind.ARCHIVE, "darwin-universal", b"mac archive"),
    "x.whl": (ArtifactKind.WHEEL, None, b"wheel"),
    "x.tar.gz": (ArtifactKind.SDIST, None, b"sdist"),
    "SHA256SUMS": (ArtifactKind.CHECKSUMS, None, b"sums"),
    "provenance.intoto.json": (ArtifactKind.PROVENANCE, None, b"{}"),
}


def _statuses(rows: list[reproduce_compare.Comparison]) -> dict[str, str]:
    return {r.path: r.status for r in rows}


def test_each_file_is_matched_mismatched_missing_not_rebuilt_or_not_compared(tmp_path: Path) -> None:
    release = _ledger(tmp_path / "release", RELEASE)
    rebuilt = _ledger(
        tmp_path / "rebuilt",
        {
            "x-linux.tar.gz": (ArtifactKind.ARCHIVE, "linux-x86_64-gnu", b"archive"),
            "x.whl": (ArtifactKind.WHEEL, None, b"another wheel"),
            "SHA256SUMS": (ArtifactKind.CHECKSUMS, None, b"other sums"),
        },
    )
    rows = compare(release, rebuilt, ("linux-x86_64-gnu",))
    assert _statuses(rows) == {
        "x-linux.tar.gz": "matched",
        "x-mac.tar.gz": "not-rebuilt",  # its target does not build here
        "x.whl": "mismatched",
        "x.tar.gz": "missing",
        "SHA256SUMS": "not-rebuilt",  # it sums the mac archive too
        "provenance.intoto.json": "not-compared",
    }
    failed = {r.path for r in rows if r.failed}
    assert failed == {"x.whl", "x.tar.gz"}
    reasons = {r.path: r.reason for r in rows}
    assert (
        "darwin-universal" in reasons["SHA256SUMS"]
        and "evidence of the release run" in reasons["provenance.intoto.json"]
    )


def test_every_target_built_here_lets_the_checksums_be_compared(tmp_path: Path) -> None:
    files = {k: v for k, v in RELEASE.items() if k != "x-mac.tar.gz"}
    release = _ledger(tmp_path / "release", files)
    rebuilt = _ledger(tmp_path / "rebuilt", files)
    assert _statuses(compare(release, rebuilt, ("linux-x86_64-gnu",)))["SHA256SUMS"] == "matched"


def test_the_signed_statements_digest_is_the_one_a_rebuild_must_have(tmp_path: Path) -> None:
    files = {"x.whl": (ArtifactKind.WHEEL, None, b"wheel")}
    release = _ledger(tmp_path / "release", files)
    rebuilt = _ledger(tmp_path / "rebuilt", files)
    # the ledger is unsigned: a statement listing another digest wins over it
    listing = {"predicate": {"files": [{"path": "x.whl", "sha256": "b" * 64}]}}
    (release.root / "release.intoto.json").write_bytes(canonical_json(listing))
    (row,) = compare(release, rebuilt, ())
    assert (row.status, row.recorded_in, row.expected_sha256) == ("mismatched", "release statement", "b" * 64)


def test_toolchain_rows_name_each_recorded_fact_and_whether_the_rebuild_used_the_same(tmp_path: Path) -> None:
    release = _ledger(tmp_path / "release", {"x": (ArtifactKind.BINARY, "linux-x86_64-gnu", b"bin")})
    rebuilt = _ledger(tmp_path / "rebuilt", {"x": (ArtifactKind.BINARY, "linux-x86_64-gnu", b"bin")})
    env = {"build_environment": {"requirements_sha256": "1" * 64}}
    release.update_facts("binary:x", {"nuitka_version": "2.7.12", **env})
    rebuilt.update_facts("binary:x", {"nuitka_version": "2.8.0", **env})
    rows = {r["fact"]: r for r in toolchain(release, rebuilt)}
    assert rows["nuitka_version"] == {
        "target": "linux-x86_64-gnu",
        "fact": "nuitka_version",
        "recorded": "2.7.12",
        "rebuilt": "2.8.0",
        "same": False,
    }
    assert rows["lock"]["same"] is True


def test_diffoscope_writes_the_difference_of_two_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    (tmp_path / "b.txt").write_text("one\nthree\n")
    assert diffoscope(tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "out" / "d.txt") == ""
    text = (tmp_path / "out" / "d.txt").read_text()
    assert "-two" in text and "+three" in text


def test_diffoscope_says_why_there_is_no_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "b.txt").write_text("b")
    assert "not on disk" in diffoscope(tmp_path / "gone.txt", tmp_path / "b.txt", tmp_path / "d.txt")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "diffoscope-minimal" in diffoscope(tmp_path / "b.txt", tmp_path / "b.txt", tmp_path / "d.txt")


def _git_project(tmp_path: Path) -> tuple[Path, str]:
    project = write_project(tmp_path, 'dist-dir = "dist"\n').parent
    run = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org"]
    subprocess.run([*run, "init", "-q"], cwd=project, check=True)
    subprocess.run([*run, "add", "-A"], cwd=project, check=True)
    subprocess.run([*run, "commit", "-qm", "c"], cwd=project, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True)
    return project, head.stdout.strip()


def test_a_release_without_a_recorded_commit_is_refused(tmp_path: Path) -> None:
    from opencode_release.core import config

    project, _ = _git_project(tmp_path)
    _ledger(project / "dist" / "1.4.0", RELEASE, commit="0" * 40).save()
    with pytest.raises(UsageError, match="is not a recorded git commit"):
        reproduce.plan(config.load(project / "pyproject.toml"), "1.4.0")


def test_a_release_with_nothing_a_rebuild_makes_is_refused(tmp_path: Path) -> None:
    from opencode_release.core import config

    project, head = _git_project(tmp_path)
    only = {"provenance.intoto.json": (ArtifactKind.PROVENANCE, None, b"{}")}
    _ledger(project / "dist" / "1.4.0", only, commit=head).save()
    with pytest.raises(UsageError, match="nothing to reproduce"):
        reproduce.plan(config.load(project / "pyproject.toml"), "1.4.0")


def test_a_plan_runs_only_the_stages_of_the_kinds_the_release_has(tmp_path: Path) -> None:
    from opencode_release.core import config

    project, head = _git_project(tmp_path)
    _ledger(project / "dist" / "1.4.0", RELEASE, commit=head).save()
    chosen = reproduce.plan(config.load(project / "pyproject.toml"), "1.4.0")
    assert chosen.stages == ("package", "python-dists", "checksum")
    assert chosen.project == "pyproject.toml" and chosen.built_here == ()


def test_a_report_of_another_version_is_refused(tmp_path: Path) -> None:
    from opencode_release.core import config

    settings = config.load(write_project(tmp_path, 'dist-dir = "dist"\n'))
    assert reproduce.load_report(settings, "1.4.0") is None
    path = reproduce.report_dir(settings, "1.4.0") / reproduce.REPORT_NAME
    path.parent.mkdir(parents=True)
    path.write_text('{"version": "1.3.0"}')
    with pytest.raises(UsageError, match=r"not the reproduce report of 1\.4\.0"):
        reproduce.load_report(settings, "1.4.0")


def test_a_checkout_another_user_owns_is_cloned_when_its_worktree_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a runner whose checkout belongs to the runner's user while the job runs as another (CI's
    # quarterly job in the simulation, a container over the workspace): actions/checkout added the
    # worktree to safe.directory, and git checks a clone's source at its .git folder.
    from opencode_release.core import config

    project, head = _git_project(tmp_path)
    subprocess.run(["chown", "-R", "1001:1001", str(project)], check=True)
    runner = tmp_path / "runner-gitconfig"
    # clone.defaultRemoteName: a setting of the user's own that the clone must still see
    runner.write_text(f'[safe]\n\tdirectory = "{project}"\n[clone]\n\tdefaultRemoteName = runner-origin\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(runner))
    _ledger(project / "dist" / "1.4.0", RELEASE, commit=head).save()
    chosen = reproduce.plan(config.load(project / "pyproject.toml"), "1.4.0")  # reads the worktree: trusted
    plain = subprocess.run(
        ["git", "clone", "-q", "--shared", str(chosen.repository), str(tmp_path / "plain")], capture_output=True
    )
    assert plain.returncode != 0 and b"dubious ownership" in plain.stderr  # what git alone does
    with reproduce.clean_checkout(chosen.repository, head) as checkout:
        assert (checkout / "pyproject.toml").is_file()
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True)
        assert done.stdout.strip() == head
        remotes = subprocess.run(["git", "remote"], cwd=checkout, capture_output=True, text=True)
        assert remotes.stdout.split() == ["runner-origin"]  # the user's configuration is included, not replaced
    assert runner.read_text().count("directory") == 1  # the user's file is not changed
    # a repository the user's git does not trust is not read at all: nothing to extend
    runner.write_text("[clone]\n\tdefaultRemoteName = runner-origin\n")
    with pytest.raises(UsageError, match="not inside a git repository"):
        reproduce.plan(config.load(project / "pyproject.toml"), "1.4.0")
