"""The strict CycloneDX validator: what it refuses, its IRI check, and what it leaves to others."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from opencode_release.attest import _cdx_validate as cdx_validate

# Valid per RFC 3987 / RFC 3986 (rfc3987_syntax 1.1 wrongly refuses the last two).
VALID = [
    "https://app.example.org",
    "https://例え.jp/パス?q=値#frag",
    "mailto:a@b.c",
    "pkg:pypi/app@2.0.0",
    "urn:uuid:00000000-0000-0000-0000-000000000000",
    "http://u:p@h:8080/p?q#f",
    "http://a/%41",
    "file:///etc/x",
    "http://192.168.0.1/",
    "http://[v7.abc]/",
    "http://a/b?c?d#e/f?g",
    "http://ü@ex.org/",
    "http://a/b?\ue000",  # iprivate: allowed in the query only
    "http://[::1]:80/x",
    "https://ex.org/\U00010000",
]
RELATIVE = ["../relative/path", "#frag", "", "//host/path", "a/b:c", "?q"]
INVALID = [
    "http://a b",
    "http://a/\ue000",
    "http://a/b#\ue000",
    "http://a/\U000f0000",
    "http://[::1/x",
    "http://a/%4",
    "http://a/\n",
    "http://a/<>",
    "http://a/b\\c",
    "http://a:port/",
    "http://a/\u0085",
    "http://a/\ufffe",
    ":no-scheme",
    "ht tp://x",
    "http://a/b#c#d",
    "é://x",
    "http://[::1]:8é/",
    "http://a/\x7f",
    'http://a/"',
    "http://a/{}",
    "http://a/`",
    "http://a/^",
    "http://a/|",
    "http://[ü]/",
]


@pytest.mark.parametrize("value", VALID)
def test_iri_check_accepts_what_rfc_3987_allows(value: str) -> None:
    assert cdx_validate.is_iri(value)
    assert cdx_validate.is_iri(value, reference=True)


@pytest.mark.parametrize("value", RELATIVE)
def test_relative_references_are_iri_references_only(value: str) -> None:
    assert cdx_validate.is_iri(value, reference=True)
    assert not cdx_validate.is_iri(value)


@pytest.mark.parametrize("value", INVALID)
def test_iri_check_refuses_what_rfc_3987_does_not_allow(value: str) -> None:
    assert not cdx_validate.is_iri(value, reference=True)


def _bom(url: str = "https://app.example.org") -> dict[str, object]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "name": "app",
                "bom-ref": "app",
                "externalReferences": [{"type": "website", "url": url}],
            }
        },
    }


def test_a_valid_document_passes() -> None:
    assert cdx_validate.problem(json.dumps(_bom())) is None


def test_a_schema_violation_is_refused_with_where_and_why() -> None:
    doc = _bom()
    doc["metadata"]["component"]["type"] = "spaceship"  # type: ignore[index]
    assert cdx_validate.problem(json.dumps(doc)) == (
        "at $.metadata.component.type: 'spaceship' is not one of ['application', 'framework', 'library', "
        "'container', 'platform', 'operating-system', 'device', 'device-driver', 'firmware', 'file', "
        "'machine-learning-model', 'data']"
    )


def test_a_bad_iri_is_refused() -> None:
    doc = json.dumps(_bom("https://app.example.org/a b"))
    assert cdx_validate.problem(doc) == (
        "at $.metadata.component.externalReferences[0].url: "
        "'https://app.example.org/a b' is not valid under any of the given schemas"
    )
    # `url` is an iri-reference or a BOM-Link: the IRI check is what refused it.
    (error,) = cdx_validate.validator().iter_errors(json.loads(doc))
    assert "'https://app.example.org/a b' is not a 'iri-reference'" in [e.message for e in error.context]


def test_other_jsonschema_users_keep_their_iri_checks_and_grammars_load_only_for_them() -> None:
    code = (
        "import sys\n"
        "from opencode_release.attest import _cdx_validate as cdx_validate\n"
        "assert cdx_validate.problem(open(sys.argv[1]).read()) is None\n"
        "print('lark' in sys.modules)\n"
        "from jsonschema import Draft7Validator\n"
        "checker = Draft7Validator.FORMAT_CHECKER\n"
        "print(checker.conforms('http://a b', 'iri-reference'), checker.conforms('http://a/b', 'iri-reference'))\n"
        "print('rfc3987_syntax.syntax_helpers' in sys.modules)\n"
    )
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json") as document:
        document.write(json.dumps(_bom()))
        document.flush()
        proc = subprocess.run([sys.executable, "-c", code, document.name], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "True", "True"]
