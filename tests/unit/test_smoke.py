"""The smoke check refuses each way a binary can be wrong (one test per check).

The binaries are small shell scripts standing in for the product, each wrong
in one way; the real Nuitka binary passes in tests/integration.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import pytest

from opencode_release.build import smoke
from opencode_release.core.config_build import SmokeCommand, SmokeSettings
from opencode_release.core.errors import CheckFailed

SAMPLE = SmokeSettings(handshake=True)  # the sample is the OpenCode CLI

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
    result = smoke.smoke(_fake(tmp_path), "1.4.0", SAMPLE)
    assert result["version_output"] == "opencode 1.4.0"
    assert result["handshake"]["version"] == "1.4.0"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"version_line": "opencode 1.3.9"}, "--version: expected a first line matching"),
        ({"hello": HELLO.replace('"1.4.0"', '"1.3.9"')}, "lacks version 1.4.0 or verbs"),
        ({"hello": HELLO.replace('"revert", ', "")}, "lacks version 1.4.0 or verbs"),
        ({"unknown": '{"id": 2, "ok": false}'}, "the unknown verb ignored"),
        ({"plan": '{"id": 3, "ok": true, "body": {}}'}, "is not a plan"),
        ({"plan": "not json"}, "answered with non-JSON"),
    ],
)
def test_each_wrong_answer_is_refused(tmp_path: Path, fault: dict[str, str], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        smoke.smoke(_fake(tmp_path, **fault), "1.4.0", SAMPLE)


def test_the_binary_runs_with_an_empty_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake exits 9 from serve when it sees HOME, PYTHONPATH or SMOKE_MARK in its environment.
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("SMOKE_MARK", "set")
    assert smoke.smoke(_fake(tmp_path), "1.4.0", SAMPLE)["handshake"]["verbs"]


def test_a_hanging_binary_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke, "_TIMEOUT", 1)
    script = tmp_path / "opencode"
    script.write_text("#!/bin/sh\nwhile :; do :; done\n")
    script.chmod(0o755)
    with pytest.raises(CheckFailed, match="no answer within 1s"):
        smoke.smoke(script, "1.4.0", SAMPLE)


def test_a_binary_that_cannot_run_here_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "opencode"
    script.write_bytes(b"\x7fELF not really")
    script.chmod(0o755)
    with pytest.raises(CheckFailed, match="opencode: cannot run here"):
        smoke.smoke(script, "1.4.0", SAMPLE)


def _click_like(tmp_path: Path, version_line: str, greeting: str = "hello world", code: int = 0) -> Path:
    """A product that is not the OpenCode CLI: no handshake, its own --version line, a subcommand."""
    script = tmp_path / "mytool"
    script.write_text(f"""#!/bin/sh
case "$1" in
  --version) echo '{version_line}' ;;
  greet) echo '{greeting}'; exit {code} ;;
  *) echo "usage: mytool" >&2; exit 2 ;;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


CLICK = SmokeSettings(
    version_pattern="^mytool, version {version}$",
    commands=(SmokeCommand(args=("greet", "world"), expect="^hello world$"),),
)


def test_handshake_is_opt_in_and_extra_commands_run(tmp_path: Path) -> None:
    result = smoke.smoke(_click_like(tmp_path, "mytool, version 0.3.0"), "0.3.0", CLICK)
    assert result == {"version_output": "mytool, version 0.3.0", "commands": ["hello world"]}
    # The same binary under the sample's checks fails on the handshake it does not speak.
    with pytest.raises(CheckFailed, match="serve --stdio"):
        smoke.smoke(_click_like(tmp_path, "mytool 0.3.0"), "0.3.0", SAMPLE)


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ({"version_line": "mytool, version 0.3.1"}, "expected a first line matching '^mytool, version {version}$'"),
        ({"version_line": "mytool, version 0x3x0"}, "with version 0.3.0"),  # the version is escaped, not a regex
        ({"version_line": "mytool, version 0.3.0", "greeting": "bye"}, "does not match '^hello world$'"),
        ({"version_line": "mytool, version 0.3.0", "code": 3}, "greet world: expected exit 0, got 3"),
    ],
)
def test_each_configured_check_refuses_its_own_fault(tmp_path: Path, script: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=re.escape(message)):
        smoke.smoke(_click_like(tmp_path, **script), "0.3.0", CLICK)
