"""The product's build environment: its own interpreter and requirements, none of the pipeline's packages."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
