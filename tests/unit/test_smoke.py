"""The smoke check refuses each way a binary can be wrong (one test per check).

The binaries are small shell scripts standing in for the product, each wrong
in one way; the real Nuitka binary passes in tests/integration.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from opencode_release.build import smoke
from opencode_release.core.errors import CheckFailed

HELLO = '{"id": 1, "ok": true, "body": {"version": "1.4.0", "verbs": ["plan", "apply", "observe", "revert", "log"]}}'
PLAN = '{"id": 3, "ok": true, "body": {"steps": ["look"]}}'


def _fake(
    tmp_path: Path, version_line: str = "opencode 1.4.0", hello: str = HELLO, plan: str = PLAN, unknown: str = ""
) -> Path:
    script = tmp_path / "opencode"
    script.write_text(f"""#!/bin/sh
if [ "$1" = "--version" ]; then echo '{version_line}'; exit 0; fi
[ -z "$HOME$PYTHONPATH$SMOKE_MARK" ] || {{ echo "environment not empty" >&2; exit 9; }}
while IFS= read -r line; do
  case "$line" in
    *'"id": 1'*) echo '{hello}' ;;
    *'"id": 2'*) [ -z '{unknown}' ] || echo '{unknown}' ;;
    *'"id": 3'*) echo '{plan}' ;;
  esac
done
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_a_correct_binary_passes(tmp_path: Path) -> None:
    result = smoke.smoke(_fake(tmp_path), "1.4.0")
    assert result["version_output"] == "opencode 1.4.0"
    assert result["handshake"]["version"] == "1.4.0"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"version_line": "opencode 1.3.9"}, "--version: expected to print version 1.4.0"),
        ({"hello": HELLO.replace('"1.4.0"', '"1.3.9"')}, "lacks version 1.4.0 or verbs"),
        ({"hello": HELLO.replace('"revert", ', "")}, "lacks version 1.4.0 or verbs"),
        ({"unknown": '{"id": 2, "ok": false}'}, "the unknown verb ignored"),
        ({"plan": '{"id": 3, "ok": true, "body": {}}'}, "is not a plan"),
        ({"plan": "not json"}, "answered with non-JSON"),
    ],
)
def test_each_wrong_answer_is_refused(tmp_path: Path, fault: dict[str, str], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        smoke.smoke(_fake(tmp_path, **fault), "1.4.0")


def test_the_binary_runs_with_an_empty_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake exits 9 from serve when it sees HOME, PYTHONPATH or SMOKE_MARK in its environment.
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("SMOKE_MARK", "set")
    assert smoke.smoke(_fake(tmp_path), "1.4.0")["handshake"]["verbs"]


def test_a_hanging_binary_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke, "_TIMEOUT", 1)
    script = tmp_path / "opencode"
    script.write_text("#!/bin/sh\nwhile :; do :; done\n")
    script.chmod(0o755)
    with pytest.raises(CheckFailed, match="no answer within 1s"):
        smoke.smoke(script, "1.4.0")


def test_a_binary_that_cannot_run_here_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "opencode"
    script.write_bytes(b"\x7fELF not really")
    script.chmod(0o755)
    with pytest.raises(CheckFailed, match="opencode: cannot run here"):
        smoke.smoke(script, "1.4.0")
