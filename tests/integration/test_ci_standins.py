"""The simulated runner behaves as GitHub's where the release depends on it (act + stand-ins).

One toy repository, one workflow: a fresh checkout owned by the runner user, a container (the
`docker run` stand-in) that sees another owner, upload-artifact dropping modes and hidden files,
matrix and job outputs through a local reusable workflow, an OIDC token only where granted, and a
cache restored by the second run.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from opencode_release.build import ci_pins
from opencode_release.release.ci_sim import runner

pytestmark = pytest.mark.integration

CALLER = textwrap.dedent(
    """\
    name: toy
    on: push
    permissions: {}
    jobs:
      make:
        runs-on: ubuntu-24.04
        permissions: {contents: read}
        steps:
          - uses: CHECKOUT
            with: {persist-credentials: false}
          - name: facts
            run: |
              echo "owner=$(stat -c %u tool.sh)"
              echo "runner-git=$(git rev-parse HEAD)"
              docker run --rm -e MARK=inside -v "$PWD:/io" -w /io IMAGE sh -c 'echo "container-uid=$(id -u) $MARK"; git rev-parse HEAD 2>&1 | head -1 | sed "s/^/container-git=/"'
              echo "id-token-url=${ACTIONS_ID_TOKEN_REQUEST_URL:-none}"
              mkdir -p out/.hidden && cp tool.sh out/ && chmod 755 out/tool.sh && touch out/.hidden/secret out/.env
          - uses: CACHE
            id: cache
            with: {key: toy-cache-v1, path: .cache/toy}
          - run: |
              echo "cache-hit=${{ steps.cache.outputs.cache-hit }} stamp=$(cat .cache/toy/stamp 2>/dev/null || echo none)"
              mkdir -p .cache/toy && echo first > .cache/toy/stamp
          - uses: UPLOAD
            with: {name: out, path: out/, if-no-files-found: error}
      sign:
        needs: make
        permissions: {contents: read, id-token: write}
        uses: ./.github/workflows/called.yml
      after:
        needs: sign
        runs-on: ubuntu-24.04
        steps:
          - uses: DOWNLOAD
            with: {name: out, path: got}
          - run: |
              echo "downloaded=$(cd got && find . -type f | sort | tr '\\n' ' ')"
              echo "mode=$(stat -c %a got/tool.sh)"
              echo "from-called=${{ needs.sign.outputs.subjects }}"
              echo "id-token-url=${ACTIONS_ID_TOKEN_REQUEST_URL:-none}"
    """
)
CALLED = textwrap.dedent(
    """\
    name: called
    on:
      workflow_call:
        outputs:
          subjects: {value: "${{ jobs.token.outputs.subjects }}"}
    jobs:
      matrix:
        strategy: {matrix: {target: [one, two]}}
        runs-on: ubuntu-24.04
        permissions: {contents: read}
        steps:
          - run: echo "matrix=${{ matrix.target }} id-token-url=${ACTIONS_ID_TOKEN_REQUEST_URL:-none}"
      token:
        needs: matrix
        runs-on: ubuntu-24.04
        permissions: {id-token: write}
        outputs:
          subjects: ${{ steps.ask.outputs.subjects }}
        steps:
          - id: ask
            run: |
              curl -sf -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore" > token.json
              echo "subjects=three" >> "$GITHUB_OUTPUT"
              python3 -c 'import json; print("token=" + json.load(open("token.json"))["value"])'
    """
)


def _repo(root: Path) -> Path:
    repo = root / "source"
    (repo / ".github/workflows").mkdir(parents=True)
    fill = {
        "CHECKOUT": ci_pins.uses("actions/checkout"),
        "CACHE": ci_pins.uses("actions/cache"),
        "UPLOAD": ci_pins.uses("actions/upload-artifact"),
        "DOWNLOAD": ci_pins.uses("actions/download-artifact"),
        "IMAGE": ci_pins.image("quay.io/pypa/manylinux_2_28_x86_64"),
    }
    text = CALLER
    for key, value in fill.items():
        text = text.replace(key, value)
    (repo / ".github/workflows/toy.yml").write_text(text)
    (repo / ".github/workflows/called.yml").write_text(CALLED)
    (repo / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "toy"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


def _printed(log: Path) -> dict[str, list[str]]:
    """`key=value` lines the steps printed, by job (act prefixes each with [workflow/job])."""
    found: dict[str, list[str]] = {}
    for line in log.read_text().splitlines():
        match = re.match(r"^\[([^\]]+)\]\s+\|\s(.*)$", line)
        if match:
            found.setdefault(match.group(1).strip(), []).append(match.group(2))
    return found


def _value(lines: Mapping[str, list[str]], job: str, key: str) -> str:
    values = [line.split("=", 1)[1] for line in lines.get(job, []) if line.startswith(f"{key}=")]
    assert values, f"{job} printed no {key}=: {lines.get(job)}"
    return values[0]


def _mint(claims: Mapping[str, Any]) -> str:
    return json.dumps({"job_workflow_ref": claims["job_workflow_ref"], "aud": claims["aud"]})


def test_the_simulated_runner_behaves_as_githubs_where_the_release_depends_on_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    run = runner.Run("acme/toy", "refs/heads/main", ".github/workflows/toy.yml", "push", ["ubuntu-24.04"])
    code, log = runner.run_workflow(repo, tmp_path / "sim", run, _mint)
    lines = _printed(log)
    assert code == 0, log.read_text()[-3000:]
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    # a fresh clone of the commit, owned by the runner user, trusted by the runner's git ...
    assert _value(lines, "toy/make", "owner") == "1001"
    assert _value(lines, "toy/make", "runner-git") == commit
    # ... and by nobody in the container, which runs as root with only its own environment
    assert _value(lines, "toy/make", "container-uid") == "0 inside"
    assert "detected dubious ownership" in _value(lines, "toy/make", "container-git")
    # artifacts: modes and hidden files do not survive upload-artifact
    assert _value(lines, "toy/after", "downloaded") == "./tool.sh "
    assert _value(lines, "toy/after", "mode") == "644"
    # matrix, a called workflow's output, and the token only where id-token: write is granted
    assert sorted(_value(lines, f"sign/called/matrix-{i}", "matrix").split()[0] for i in (1, 2)) == ["one", "two"]
    for job in ("toy/make", "toy/after", "sign/called/matrix-1", "sign/called/matrix-2"):
        assert _value(lines, job, "id-token-url" if "matrix" not in job else "matrix").endswith("none"), job
    assert _value(lines, "toy/after", "from-called") == "three"
    token = json.loads(_value(lines, "sign/called/token", "token"))
    assert token == {"job_workflow_ref": "acme/toy/.github/workflows/called.yml@refs/heads/main", "aud": "sigstore"}
    # the cache: missed and saved by the first run, restored by the second
    assert _value(lines, "toy/make", "cache-hit") == "false stamp=none"
    code, log = runner.run_workflow(repo, tmp_path / "sim", run, _mint)
    assert code == 0, log.read_text()[-3000:]
    assert _value(_printed(log), "toy/make", "cache-hit") == "true stamp=first"


def test_the_simulated_cache_is_scoped_by_ref_as_githubs(tmp_path: Path) -> None:
    """A run restores caches saved on its own ref or the default branch, never a tag's: so a nightly on
    main cannot restore what a tag's release saved, and a release restores main's."""
    repo = _repo(tmp_path)
    tag = runner.Run("acme/toy", "refs/tags/v1", ".github/workflows/toy.yml", "push", ["ubuntu-24.04"])
    main = runner.Run("acme/toy", "refs/heads/main", ".github/workflows/toy.yml", "push", ["ubuntu-24.04"])
    hits = []
    for run, folder in ((main, "first"), (tag, "first"), (tag, "second"), (main, "second")):
        code, log = runner.run_workflow(repo, tmp_path / folder, run, _mint)
        assert code == 0, log.read_text()[-3000:]
        hits.append(_value(_printed(log), "toy/make", "cache-hit"))
    # first folder: main saves on its miss, the tag (no entry of its own) restores main's
    assert hits[:2] == ["false stamp=none", "true stamp=first"]
    # second folder: the tag saves on its miss, main cannot restore the tag's entry
    assert hits[2:] == ["false stamp=none", "false stamp=none"]
