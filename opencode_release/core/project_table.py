"""What a product's `[project]` table (PEP 621) already says, as defaults for its settings.

Name, version, description, license, URLs, authors and console scripts are
read from here, so `[tool.opencode-release]` holds only what the pipeline
adds. A value the table sets explicitly wins; everything else is the
product's own, never the sample's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# PEP 753: URL labels compare lower-cased with punctuation and whitespace removed.
_HOMEPAGE_LABELS = ("homepage", "home", "documentation", "docs")
_REPOSITORY_LABELS = ("repository", "source", "sourcecode", "code", "github")
_GITHUB = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?/?$")


def _label(text: str) -> str:
    return re.sub(r"[\s\W_]", "", text).lower()


def _url(urls: dict[str, Any], labels: tuple[str, ...]) -> str:
    by_label = {_label(k): v for k, v in urls.items() if isinstance(v, str)}
    return next((by_label[label] for label in labels if label in by_label), "")


def _person(people: Any) -> tuple[str, str]:
    """(name, email) of the first author or maintainer that has a name, else one with an email."""
    entries = [p for p in people if isinstance(p, dict)] if isinstance(people, list) else []
    for entry in entries:
        if isinstance(entry.get("name"), str):
            return entry["name"], entry.get("email", "") if isinstance(entry.get("email"), str) else ""
    for entry in entries:
        email = entry.get("email")
        if isinstance(email, str):
            # PEP 621 allows "Name <addr>" in email alone.
            match = re.match(r"^\s*(.+?)\s*<([^>]+)>\s*$", email)
            return (match[1], match[2]) if match else ("", email)
    return "", ""


def github_owner(repository: str) -> str:
    match = _GITHUB.match(repository)
    return match["owner"] if match else ""


def _license(project: dict[str, Any], where: str, problems: list[str]) -> str:
    value = project.get("license")
    if isinstance(value, str):
        return value.strip()
    if (
        isinstance(value, dict)
        and isinstance(value.get("text"), str)
        and re.fullmatch(r"[A-Za-z0-9.+-]+", value["text"])
    ):
        return str(value["text"])
    if value is None:
        problems.append(
            f'{where}: [project].license: missing; expected an SPDX expression such as "Apache-2.0" (PEP 639); '
            "the SBOM, the formula, the .deb and winget need it"
        )
    else:
        problems.append(
            f"{where}: [project].license: found {value!r}; expected an SPDX expression string such as "
            '"Apache-2.0" (PEP 639), with the text in license-files'
        )
    return ""


def entry_points(project: dict[str, Any]) -> dict[str, str]:
    scripts = project.get("scripts")
    return {k: v for k, v in scripts.items() if isinstance(v, str)} if isinstance(scripts, dict) else {}


def _package_dir(project_dir: Path, module: str) -> str:
    top = module.split(".")[0]
    for candidate in (f"src/{top}", top):
        if (project_dir / candidate).is_dir():
            return candidate
    return f"src/{top}" if (project_dir / "src").is_dir() else top


def derived(project: Any, pyproject: Path, problems: list[str], table: dict[str, Any]) -> dict[str, Any]:
    """Defaults for the settings, from `[project]`; problems found on the way are appended.

    Defaults made of other settings (the formula is named after the binary) follow what `table` sets.
    """
    where = str(pyproject)
    if not isinstance(project, dict):
        problems.append(f"{where}: [project]: missing; expected a PEP 621 table with name and version")
        return {}
    values: dict[str, Any] = {}
    name = project.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: [project].name: found {name!r}; expected the distribution name")
        name = ""
    version = project.get("version")
    if isinstance(version, str):
        values["version"] = version
    elif "version" in project.get("dynamic", []):
        problems.append(
            f"{where}: [project].version: dynamic; expected a static version (the pipeline stamps it into the "
            "build), or set tool.opencode-release.version"
        )
    if isinstance(project.get("description"), str):
        values["description"] = project["description"]
    values["license"] = _license(project, where, problems)
    found_urls = project.get("urls")
    urls: dict[str, Any] = found_urls if isinstance(found_urls, dict) else {}
    values["repository"] = _url(urls, _REPOSITORY_LABELS)
    repository = _chosen(table, "repository", values["repository"])
    values["homepage"] = _url(urls, _HOMEPAGE_LABELS) or repository
    scripts = entry_points(project)
    # The binary is named after the console script when there is exactly one.
    binary = next(iter(scripts)) if len(scripts) == 1 else name
    values["name"] = binary
    binary = _chosen(table, "name", binary)
    if len(scripts) == 1:
        values["entry-point"] = next(iter(scripts.values()))
    module = values.get("entry-point", name.replace("-", "_")).split(":")[0]
    values["package"] = _package_dir(pyproject.parent, module)
    person, email = (
        _person(project.get("maintainers")) if project.get("maintainers") else _person(project.get("authors"))
    )
    owner = github_owner(repository)
    publisher = person or owner or binary
    values["apt"] = {"maintainer": f"{person or publisher} <{email}>" if email else ""}
    values["homebrew"] = {"formula": binary, "tap": f"{owner or binary}/homebrew-tap"}
    values["winget"] = {
        "publisher": publisher,
        "identifier": f"{_winget_part(publisher)}.{_winget_part(binary)}",
    }
    signing = table.get("signing")
    instance = signing.get("instance", "local") if isinstance(signing, dict) else "local"
    if instance in ("production", "staging") and repository:
        # Public Sigstore certifies the CI workflow that runs for a version tag (GitHub's OIDC).
        values["signing"] = {
            "identity": f"{repository.rstrip('/')}/.github/workflows/build.yml@refs/tags/v*",
            "issuer": "https://token.actions.githubusercontent.com",
        }
    else:
        values["signing"] = {"identity": f"release@{binary}.local"}
    return values


def _chosen(table: dict[str, Any], key: str, default: str) -> str:
    value = table.get(key)
    return value if isinstance(value, str) and value else default


def _winget_part(text: str) -> str:
    # winget identifiers: `Publisher.Package`, each part without spaces.
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", text) if word) or "Product"
