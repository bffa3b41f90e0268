"""The product's build environment: its own interpreter and requirements, none of the pipeline's packages."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from opencode_release.build import environment
from opencode_release.core import config
from tests.conftest import write_project


def test_an_environment_holds_only_what_the_product_declares_and_is_reused(tmp_path: Path) -> None:
    settings = config.load(write_project(tmp_path, 'name = "o"\npackage = "p"\n'))
    assert settings.dependencies == () and settings.build.isolated
    made = environment.ensure(settings, "linux-x86_64-gnu", tmp_path / "state")
    assert made.source == "[project].dependencies" and made.packages == ()
    # The pipeline's own packages (the compiler, rich, ...) are not importable from it, even with
    # the compiler's folder on the path, apart from the compiler itself.
    probe = "import importlib.util as u; print([n for n in ('rich', 'defusedxml', 'nuitka') if u.find_spec(n)])"
    alone = subprocess.run([str(made.python), "-c", probe], capture_output=True, text=True, check=True, env={})
    assert alone.stdout.strip() == "[]"
    beside = subprocess.run(
        [str(made.python), "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(made.compiler_path)},
    )
    assert beside.stdout.strip() == "['nuitka']"
    again = environment.ensure(settings, "linux-x86_64-gnu", tmp_path / "state")
    assert again == made


def test_a_lock_file_is_what_goes_in_and_changes_the_environment(tmp_path: Path) -> None:
    settings = config.load(write_project(tmp_path, 'name = "o"\npackage = "p"\n'))
    (tmp_path / "requirements.lock").write_text("# nothing pinned yet\n")
    requirements, source = environment.requirements_of(settings)
    assert (requirements, source) == (b"# nothing pinned yet\n", "requirements.lock")
    with_lock = environment.ensure(settings, "linux-x86_64-gnu", tmp_path / "state")
    assert with_lock.source == "requirements.lock"
    (tmp_path / "requirements.lock").unlink()
    declared = environment.ensure(settings, "linux-x86_64-gnu", tmp_path / "state")
    assert declared.source == "[project].dependencies" and declared.python != with_lock.python


def _wheel(folder: Path) -> Path:
    """A one-module wheel on disk, so pip installs it without an index."""
    files = {
        "greetlib/__init__.py": b"GREETING = 'hello'\n",
        "greetlib-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: greetlib\nVersion: 1.0\nLicense: 0BSD\n",
        "greetlib-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files.items()
    ]
    files["greetlib-1.0.dist-info/RECORD"] = ("\n".join([*record, "greetlib-1.0.dist-info/RECORD,,"]) + "\n").encode()
    path = folder / "greetlib-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return path


def test_the_caller_s_pip_and_python_variables_do_not_reach_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = config.load(write_project(tmp_path, 'name = "o"\npackage = "p"\n'))
    (tmp_path / "requirements.lock").write_text(f"{_wheel(tmp_path)}\n")
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    marker = tmp_path / "sitecustomize-ran"
    (hostile / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (hostile / "pip.conf").write_text(f"[install]\ntarget = {tmp_path / 'config-target'}\n")
    monkeypatch.setenv("PYTHONPATH", str(hostile))  # would run code in venv and pip, and shadow packages
    monkeypatch.setenv("PIP_CONFIG_FILE", str(hostile / "pip.conf"))
    monkeypatch.setenv("PIP_TARGET", str(tmp_path / "env-target"))  # would install beside the environment
    monkeypatch.setenv("PIP_REQUIRE_HASHES", "1")  # would refuse the unhashed requirement
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    made = environment.ensure(settings, "linux-x86_64-gnu", tmp_path / "state")
    assert made.packages == (("greetlib", "1.0"),)
    assert made.declared["greetlib"]["metadata"] == {"License": ["0BSD"]}
    assert not marker.exists()
    assert not (tmp_path / "config-target").exists() and not (tmp_path / "env-target").exists()
    probe = "import greetlib; print(greetlib.GREETING)"
    run = subprocess.run([str(made.python), "-c", probe], capture_output=True, text=True, check=True, env={})
    assert run.stdout == "hello\n"
