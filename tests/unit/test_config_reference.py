"""docs/configuration.md is what the code generates, and documents every key."""

from __future__ import annotations

import dataclasses

from opencode_release.core import config, config_build, config_reference
from tests.conftest import REPO


def test_the_committed_reference_is_what_the_code_generates() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == config_reference.render(), (
        "docs/configuration.md is stale: run "
        "`.venv/bin/python -m opencode_release.core.config_reference > docs/configuration.md`"
    )


def _leaf_fields(cls: type[object]) -> list[dataclasses.Field[object]]:
    found = []
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not spec.metadata.get("toml", True):
            continue
        if isinstance(spec.default_factory, type) and dataclasses.is_dataclass(spec.default_factory):
            found += _leaf_fields(spec.default_factory)
        else:
            found.append(spec)
    return found


def test_every_key_has_a_meaning_and_an_example() -> None:
    leaves = _leaf_fields(config.Settings) + _leaf_fields(config_build.SmokeCommand)
    undocumented = [f.name for f in leaves if not f.metadata.get("doc") or not f.metadata.get("example")]
    assert not undocumented
    text = config_reference.render()
    for spec in leaves:
        assert f"| `{spec.name.replace('_', '-')}` |" in text
