from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from opencode_release.core import config, config_rules
from opencode_release.core.errors import ConfigError
from tests.conftest import PRODUCT, write_project


def test_sample_product_loads() -> None:
    settings = config.load(PRODUCT / "pyproject.toml")
    assert settings.name == "opencode"
    assert settings.version == "1.4.0"  # from [project].version
    assert set(settings.targets) == set(config.ALL_TARGETS)
    assert settings.lifecycle.stable_anchor == dt.date(2026, 1, 6)
    assert settings.project_dir == PRODUCT


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('name = "o"\npackage = "p"\ncolour = "red"\n', "tool.opencode-release: unknown key 'colour'; expected one of"),
        ('name = 3\npackage = "p"\n', "tool.opencode-release.name: found 3 (int); expected a string"),
        (
            'name = "o"\npackage = "p"\ntargets = ["linux-sparc-gnu"]\n',
            "tool.opencode-release.targets: unknown target 'linux-sparc-gnu'",
        ),
        ('name = "o"\npackage = "p"\nversion = "1.4"\n', "tool.opencode-release.version: version '1.4'"),
        (
            'name = "o"\npackage = "p"\ntargets = "linux-x86_64-gnu"\n',
            "targets: found 'linux-x86_64-gnu' (str); expected an array",
        ),
        ('name = "o"\npackage = "p"\n[signing]\ninstance = "moon"\n', "signing.instance: found 'moon'"),
        (
            'name = "o"\npackage = "p"\n[signing]\nrekor-version = 3\n',
            "signing.rekor-version: found 3; expected 1 or 2",
        ),
        (
            'name = "o"\npackage = "p"\n[signing]\nrekor-version = "2"\n',
            "signing.rekor-version: found '2' (str); expected an integer",
        ),
        (
            'name = "o"\npackage = "p"\n[signing]\ninstance = "production"\nrekor-version = 2\n',
            "signing.rekor-version: applies to the embedded instance only",
        ),
        (
            'name = "o"\npackage = "p"\n[lifecycle]\nstable-anchor = "2026-01-06"\n',
            "lifecycle.stable-anchor: found '2026-01-06' (str); expected a date",
        ),
        (
            'name = "o"\npackage = "p"\n[lifecycle]\nnightly-keep = 0\n',
            "lifecycle.nightly-keep: found 0; expected a number from 1 to 10000",
        ),
        (
            'name = "o"\npackage = "p"\n[lifecycle]\nnightly-keep = true\n',
            "nightly-keep: found True (bool); expected an integer",
        ),
        ('name = "o"\npackage = "p"\n[winget]\nflavour = 1\n', "tool.opencode-release.winget: unknown key 'flavour'"),
        (
            'name = "o"\n[smoke]\ncommands = [{ args = "x" }]\n',
            "smoke.commands[0].args: found 'x' (str); expected an array",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_file_and_key(tmp_path: Path, table: str, message: str) -> None:
    path = write_project(tmp_path, table)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    text = str(caught.value)
    assert text.startswith(str(path))
    assert message in text
    assert "\n" not in text
    assert caught.value.exit_code == 2


def test_missing_file_and_missing_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; pass --project"):
        config.load(tmp_path / "nope.toml")
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    with pytest.raises(ConfigError, match=r"no \[tool.opencode-release\] table"):
        config.load(tmp_path / "pyproject.toml")


def test_every_mistake_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = write_project(
        tmp_path, 'colour = "red"\ntargets = ["beos"]\n[lifecycle]\nnightly-keep = 0\nlts-month = "May"\n'
    )
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 4 and all(line.startswith(f"{path}: ") for line in lines)
    assert [line.split(": ")[1] for line in lines] == [
        "tool.opencode-release",
        "tool.opencode-release.lifecycle.lts-month",
        "tool.opencode-release.targets",
        "tool.opencode-release.lifecycle.nightly-keep",
    ]


NEWCOMER = """\
[project]
name = "mytool"
version = "0.3.0"
description = "A small tool of a newcomer"
license = "Apache-2.0"
authors = [{ name = "Ada Newcomer", email = "ada@example.net" }]
dependencies = ["click>=8.1,<9"]

[project.urls]
Homepage = "https://mytool.example.net"
"Source Code" = "https://github.com/newcomer/mytool"

[project.scripts]
mytool = "mytool.cli:main"

[tool.opencode-release]
targets = ["linux-x86_64-gnu"]
"""


def test_a_new_product_takes_everything_from_its_own_project_table(tmp_path: Path) -> None:
    (tmp_path / "src" / "mytool").mkdir(parents=True)
    path = tmp_path / "pyproject.toml"
    path.write_text(NEWCOMER)
    settings = config.load(path)
    assert (settings.name, settings.package, settings.entry_point) == ("mytool", "src/mytool", "mytool.cli:main")
    assert (settings.version, settings.license) == ("0.3.0", "Apache-2.0")
    assert settings.description == "A small tool of a newcomer"
    assert (settings.homepage, settings.repository) == (
        "https://mytool.example.net",
        "https://github.com/newcomer/mytool",
    )
    assert settings.apt.maintainer == "Ada Newcomer <ada@example.net>"
    assert (settings.homebrew.tap, settings.homebrew.formula) == ("newcomer/homebrew-tap", "mytool")
    assert (settings.winget.publisher, settings.winget.identifier) == ("Ada Newcomer", "AdaNewcomer.Mytool")
    assert settings.signing.identity == "release@mytool.local"
    assert not settings.smoke.handshake
    # Nothing of the sample leaks into a product that does not set it.
    assert "opencode" not in repr(settings).replace(".opencode-release", "").lower()


def test_the_table_wins_over_what_project_says(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        NEWCOMER + 'name = "mt"\nlicense = "MIT"\n[tool.opencode-release.apt]\nmaintainer = "T <t@example.net>"\n'
    )
    settings = config.load(path)
    assert (settings.name, settings.license, settings.apt.maintainer) == ("mt", "MIT", "T <t@example.net>")
    assert settings.homebrew.formula == "mt" and settings.apt.section == "devel"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('license = "Apache-2.0"\n', ""), "[project].license: missing; expected an SPDX expression"),
        (('license = "Apache-2.0"', 'license = { file = "LICENSE" }'), "[project].license: found {'file': 'LICENSE'}"),
        (('version = "0.3.0"', 'dynamic = ["version"]'), "[project].version: dynamic; expected a static version"),
        (('authors = [{ name = "Ada Newcomer", email = "ada@example.net" }]', ""), "apt.maintainer: missing"),
    ],
)
def test_what_project_lacks_is_named_with_what_to_do(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(NEWCOMER.replace(*change))
    with pytest.raises(ConfigError, match=re.escape(message)):
        config.load(path)


# Each of these loaded before (issue #15) and failed, if at all, after the compile.
HOSTILE = [
    ('name = "../../evil"\npackage = "p"\n', "name: found '../../evil'; expected letters, digits"),
    ('name = "a/b"\npackage = "p"\n', "name: found 'a/b'; expected letters"),
    ('name = "o"\npackage = "p"\nversion = " 1.4.0 "\n', "version: found ' 1.4.0 '; remove the surrounding whitespace"),
    (
        'name = "o"\npackage = "p"\ndescription = "two\\nlines"\n',
        "description: found 'two\\nlines'; control characters",
    ),
    ('name = "o"\npackage = "../elsewhere"\n', "package: found '../elsewhere': climbs out with '..'"),
    ('name = "o"\npackage = "p"\n[build]\nlock = "/etc/shadow"\n', "build.lock: found '/etc/shadow': absolute"),
    (
        'name = "o"\npackage = "p"\nrepository = "javascript:alert(1)"\n',
        "tool.opencode-release.repository: found 'javascript:alert(1)'; expected an http(s):// URL",
    ),
    (
        'name = "o"\npackage = "p"\nhomepage = "https://x.example\\" ; system \\"id"\n',
        "tool.opencode-release.homepage: found 'https://x.example\" ; system \"id'; expected an http(s):// URL",
    ),
    (
        'name = "o"\npackage = "p"\n[procurement]\nstatements = "../../x.toml"\n',
        "procurement.statements: found '../../x.toml': climbs out with '..'; expected a path inside the project",
    ),
    (
        'name = "o"\npackage = "p"\n[procurement]\nosv-export = "/tmp/all.zip"\n',
        "procurement.osv-export: found '/tmp/all.zip': absolute",
    ),
    (
        'name = "o"\npackage = "p"\n[procurement]\nvex-triage = "a//b.toml"\n',
        "procurement.vex-triage: found 'a//b.toml': not normalised",
    ),
    ('name = "o"\npackage = "/usr/lib/python3"\n', "package: found '/usr/lib/python3': absolute"),
    (
        'name = "o"\npackage = "p"\n[channels]\nlock-timeout-seconds = -5.0\n',
        "channels.lock-timeout-seconds: found -5.0; expected a number from 0.1 to 3600",
    ),
    (
        'name = "o"\npackage = "p"\n[lifecycle]\nevidence-days = -1\n',
        "lifecycle.evidence-days: found -1; expected a number from 1",
    ),
    (
        'name = "o"\npackage = "p"\n[procurement]\nosv-export = "https:///all.zip"\n',
        "procurement.osv-export: found 'https:///all.zip': a URL without a host",
    ),
    (
        'name = "o"\npackage = "p"\n[procurement]\nosv-max-bytes = 0\n',
        "procurement.osv-max-bytes: found 0; expected a number from 1 to",
    ),
    (
        'name = "o"\npackage = "p"\n[procurement]\nosv-deadline = 0\n',
        "procurement.osv-deadline: found 0.0; expected a number from 0.1 to 86400",
    ),
    (
        'name = "o"\npackage = "p"\n[lifecycle]\nstable-cadence-weeks = 520\n',
        "stable-cadence-weeks: found 520; expected a number from 1 to 52",
    ),
    (
        'name = "o"\npackage = "p"\n[channels]\ntimestamp-expiry-days = 30\n',
        "timestamp-expiry-days: found 30, more than snapshot-expiry-days (14)",
    ),
    (
        'name = "o"\npackage = "p"\n[channels]\ndownload-url = "{homepage}/{nope}/{file"\n',
        "channels.download-url: found '{homepage}/{nope}/{file'",
    ),
    (
        'name = "o"\npackage = "p"\n[channels]\ndownload-url = "{homepage}/{nope}/{file}"\n',
        "only the placeholders {homepage}, {channel}",
    ),
    ('name = "o"\npackage = "p"\n[channels]\ndownload-url = "{homepage}/{version}"\n', "with {file}"),
    ('name = "o"\npackage = "p"\n[channels]\ndownload-url = "{file!r:>9}"\n', "only the placeholders"),
    ('name = "o"\npackage = "p"\n[channels]\ndownload-url = "ftp://x/{file}"\n', "it must give an http(s) URL"),
    (
        'name = "o"\npackage = "p"\n[homebrew]\nformula = "../x"\n',
        "homebrew.formula: found '../x'; expected a Homebrew formula name",
    ),
    (
        'name = "o"\npackage = "p"\n[homebrew]\ntap = "o/../../t"\n',
        "homebrew.tap: found 'o/../../t'; expected OWNER/homebrew-NAME",
    ),
    ('name = "o"\npackage = "p"\n[winget]\nidentifier = "../../x"\n', "winget.identifier: found '../../x'"),
    ('name = "o"\npackage = "p"\n[winget]\nidentifier = "One"\n', "winget.identifier: found 'One'"),
    ('name = "o"\npackage = "p"\n[apt]\nsection = "devel/../x"\n', "apt.section: found 'devel/../x'"),
    (
        'name = "o"\npackage = "p"\n[channels]\nupdate-root = "../root.json"\n',
        "channels.update-root: found '../root.json': climbs out with '..'; expected a path inside the project",
    ),
    (
        'name = "o"\npackage = "p"\n[channels]\nupdate-root = "/etc/root.json"\n',
        "channels.update-root: found '/etc/root.json': absolute",
    ),
    (
        'name = "o"\npackage = "p"\n[channels]\nupdate-root = "root.toml"\n',
        "channels.update-root: found 'root.toml'; expected the repository's root metadata, a .json file",
    ),
    (
        'name = "o"\npackage = "p"\n[channels]\nupdate-root = "release/root.json"\n',
        "channels.update-root: found 'release/root.json': no such file; copy the channel repository's "
        "metadata/1.root.json there",
    ),
]


@pytest.mark.parametrize(("table", "message"), HOSTILE)
def test_names_ranges_paths_and_templates_are_checked_at_load(tmp_path: Path, table: str, message: str) -> None:
    path = write_project(tmp_path, table)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    lines = str(caught.value).splitlines()
    assert any(message in line for line in lines), lines
    assert all(line.startswith(f"{path}: ") for line in lines)  # one line per mistake, each naming the file
    assert caught.value.exit_code == 2


def test_every_name_pattern_accepts_the_sample() -> None:
    settings = config.load(PRODUCT / "pyproject.toml")
    assert settings.channels.download_url.startswith("{homepage}/")
    for key in config_rules.NAME_PATTERNS:
        assert config_rules.value_of(settings, key)


def test_a_pinned_update_root_inside_the_project_loads(tmp_path: Path) -> None:
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "root.json").write_text("{}")
    settings = config.load(
        write_project(tmp_path, 'name = "o"\npackage = "p"\n[channels]\nupdate-root = "release/root.json"\n')
    )
    assert settings.path(settings.channels.update_root) == (tmp_path / "release" / "root.json").resolve()


def test_an_unknown_hardening_feature_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(NEWCOMER + '[tool.opencode-release.build]\nhardening = ["pie", "aslr"]\n')
    with pytest.raises(ConfigError, match=re.escape("tool.opencode-release.build.hardening: unknown 'aslr'; expected")):
        config.load(path)
    path.write_text(NEWCOMER + '[tool.opencode-release.build]\nhardening = ["pie", "full-relro"]\n')
    assert config.load(path).build.hardening == ("pie", "full-relro")
