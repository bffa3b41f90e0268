"""Property-based fuzzing of every parser that reads data from outside (issue #15).

Ledgers and partial ledgers (from build jobs), in-toto statements, the ELF, Mach-O and PE
readers (binaries come back from CI runners), the channel index and release records (read
back from a repository), and the configuration. Each must give a result or a typed, one-line
`ReleaseError`, never another exception, within a bounded time (hypothesis's deadline) and
memory (tracemalloc's peak per example).

Sized for CI by the `ci` profile; `HYPOTHESIS_PROFILE=long` runs 50x more examples (see
benchmarks/README.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tomllib
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opencode_release.attest import statements
from opencode_release.build.inspection import elf, macho, pe
from opencode_release.channels.channel_index import ChannelIndex, ReleaseEntry
from opencode_release.core import config
from opencode_release.core.errors import ConfigError, ReleaseError
from opencode_release.core.ledger import MANIFEST_NAME, Ledger
from opencode_release.core.names import SLSA_PROVENANCE_V1
from opencode_release.release import merge
from opencode_release.verify import statement_checks
from opencode_release.verify.identity_policy import Policy
from tests import binaries

settings.register_profile(
    "ci", max_examples=150, deadline=dt.timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=7500, deadline=dt.timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

MEMORY_LIMIT = 64 << 20  # per example; the largest input here is a few hundred KiB
T = TypeVar("T")

# JSON values, with the shapes the parsers look for mixed in so they get past the first check
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)


def bounded(parse: Callable[[], T]) -> T | ReleaseError:
    """The result, or the typed error; anything else fails the test. Memory is measured."""
    tracemalloc.start()
    try:
        try:
            return parse()
        except ReleaseError as exc:
            text = str(exc)
            # one line; a configuration lists every mistake of the file, one line each
            lines = text.splitlines()
            assert lines and (len(lines) == 1 or isinstance(exc, ConfigError)), f"not one line: {text!r}"
            assert all(line.strip() for line in lines)
            return exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_LIMIT, f"{peak:,} bytes at the peak"


# -- ledgers and partial ledgers ------------------------------------------------------------

_path_text = st.sampled_from(
    ["a.tar.gz", "../x", "/etc/passwd", "a//b", "ok/name", "a\nb", "", "C:\\\\x", "..", "x" * 300]
)
_artifact = st.fixed_dictionaries(
    {
        "id": st.text(max_size=20) | st.integers(),
        "kind": st.sampled_from(["archive", "binary", "sbom", "nope"]) | JSON,
        "path": _path_text | st.text(max_size=30) | JSON,
        "target": st.none() | st.sampled_from(["linux-x86_64-gnu"]) | JSON,
        "size": st.integers() | JSON,
        "sha256": st.text(max_size=64) | JSON,
    },
    optional={"relations": JSON | st.dictionaries(st.text(max_size=5), st.lists(st.text(max_size=5))), "facts": JSON},
)
_source = st.fixed_dictionaries(
    {"repository": JSON, "commit": JSON, "ref": JSON, "source_date_epoch": st.integers() | JSON}
)
LEDGER = (
    st.fixed_dictionaries(
        {
            "schema_version": st.sampled_from([1, 0, 2, "1"]) | JSON,
            "product": JSON,
            "version": st.sampled_from(["1.4.0", " 1.4.0", "1.4.0\n"]) | JSON,
            "channel": JSON,
            "source": _source | JSON,
            "artifacts": st.lists(_artifact, max_size=4) | JSON,
        },
        optional={"stages": st.lists(st.fixed_dictionaries({"name": JSON, "inputs": JSON, "outputs": JSON})) | JSON},
    )
    | JSON
)


@given(LEDGER)
def test_ledger_from_json(data: Any) -> None:
    result = bounded(lambda: Ledger.from_json(Path("/nonexistent/dist/1.4.0"), data, "fuzzed ledger"))
    if isinstance(result, Ledger):
        for artifact in result.artifacts:
            assert ".." not in artifact.path.split("/") and not artifact.path.startswith("/")


@given(st.binary(max_size=2000) | LEDGER.map(lambda d: json.dumps(d).encode()))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_partial_ledgers_from_a_build_job(tmp_path: Path, data: bytes) -> None:
    """A downloaded CI artifact folder holding one fuzzed partial ledger: merged or refused, nothing written."""
    incoming = tmp_path / "incoming"
    (incoming / "job").mkdir(parents=True, exist_ok=True)
    (incoming / "job" / MANIFEST_NAME).write_bytes(data)
    release = Ledger.from_json(tmp_path / "release", _GOOD_LEDGER, "release")

    def run() -> list[Any]:
        return merge.plan(release, merge.find_partials(incoming))

    bounded(run)
    assert not (tmp_path / "release").exists()


_GOOD_LEDGER = {
    "schema_version": 1,
    "product": "opencode",
    "version": "1.4.0",
    "channel": "stable",
    "source": {"repository": "r", "commit": "c", "ref": "", "source_date_epoch": 1},
    "artifacts": [],
}


# -- statements -------------------------------------------------------------------------------

STATEMENT = (
    st.fixed_dictionaries(
        {
            "_type": st.sampled_from(["https://in-toto.io/Statement/v1"]) | JSON,
            "subject": st.lists(
                st.fixed_dictionaries(
                    {"name": JSON, "digest": st.dictionaries(st.sampled_from(["sha256", "sha512", "x"]), JSON)}
                )
                | JSON,
                max_size=3,
            )
            | JSON,
            "predicateType": st.sampled_from([SLSA_PROVENANCE_V1, "https://cyclonedx.org/bom"]) | JSON,
            "predicate": JSON,
        }
    )
    | JSON
)


@given(st.binary(max_size=500) | STATEMENT.map(lambda d: json.dumps(d).encode()))
def test_in_toto_statements(data: bytes) -> None:
    bounded(lambda: statements.check_statement(data, "fuzzed.intoto.json", SLSA_PROVENANCE_V1))


# -- binaries ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return {name: path.read_bytes()[: 256 << 10] for name, path in binaries.shared(tmp_path_factory).items()}


def _damaged(data: bytes) -> st.SearchStrategy[bytes]:
    """`data` with some bytes replaced (mostly in the headers), or cut short."""
    edits = st.lists(st.tuples(st.integers(0, max(0, min(len(data), 8192) - 1)), st.integers(0, 255)), max_size=24)
    cut = st.integers(0, len(data))

    def apply(changes: list[tuple[int, int]], length: int) -> bytes:
        damaged = bytearray(data)
        for at, value in changes:
            damaged[at] = value
        return bytes(damaged[:length])

    return st.builds(apply, edits, cut)


@given(st.data())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_binary_readers(real_binaries: dict[str, bytes], tmp_path: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(real_binaries)))
    damaged = data.draw(_damaged(real_binaries[name]) | st.binary(max_size=4096))
    target = tmp_path / "binary"
    target.write_bytes(damaged)
    if name.startswith("elf"):
        bounded(lambda: elf.inspect(target))
    elif name.startswith("macho"):
        bounded(lambda: macho.inspect_bytes(damaged, "fuzzed"))
    else:
        bounded(lambda: pe.inspect_bytes(damaged, "fuzzed"))


# -- the channel index and release records ---------------------------------------------------

_file = st.fixed_dictionaries(
    {
        "id": JSON,
        "kind": JSON,
        "path": _path_text | JSON,
        "url": st.sampled_from(["targets/stable/1.4.0/ab.a", "../x", "targets/../x"]) | JSON,
        "size": st.integers() | JSON,
        "sha256": JSON,
        "payload": JSON,
    },
    optional={"target": JSON},
)
RECORD = (
    st.fixed_dictionaries(
        {
            "version": st.sampled_from(["1.4.0", "1.4", " 1.4.0"]) | JSON,
            "date": JSON,
            "published": st.sampled_from(["2026-01-01T00:00:00+00:00", "yesterday"]) | JSON,
            "commit": JSON,
            "files": st.lists(_file, max_size=3) | JSON,
            "yanked": JSON,
            "yanked_reason": JSON,
            "pruned": JSON,
        }
    )
    | JSON
)
INDEX = (
    st.fixed_dictionaries({"channel": JSON, "product": JSON, "releases": st.lists(RECORD, max_size=3) | JSON}) | JSON
)


@given(st.binary(max_size=800) | INDEX.map(lambda d: json.dumps(d).encode()))
def test_channel_index(data: bytes) -> None:
    result = bounded(lambda: ChannelIndex.from_bytes(data, "fuzzed/index.json"))
    if isinstance(result, ChannelIndex):
        bounded(result.to_html)


@given(st.binary(max_size=800) | RECORD.map(lambda d: json.dumps(d).encode()))
def test_release_record(data: bytes) -> None:
    result = bounded(lambda: ReleaseEntry.from_bytes(data, "fuzzed/release.json"))
    if isinstance(result, ReleaseEntry):
        assert all(f.url.startswith("targets/") and ".." not in f.url.split("/") for f in result.files)


# -- configuration ------------------------------------------------------------------------------

_SAMPLE = tomllib.loads((Path(__file__).resolve().parents[2] / "product" / "pyproject.toml").read_text())
_KEYS = [*sorted(_SAMPLE["tool"]["opencode-release"]), "version", "license", "channels", "lifecycle", "nope"]
_toml_value = st.recursive(
    st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.dates(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["root", "keep", "x", "download-url", "nightly-keep"]), inner, max_size=3)
    ),
    max_leaves=10,
)


def _toml(table: dict[str, Any]) -> str:
    import re

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float, dt.date)):
            return str(v) if not isinstance(v, float) else repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"

    body = "\n".join(f"{json.dumps(k)} = {value(v)}" for k, v in table.items())
    return re.sub(r"\r", "", f'[project]\nname = "x"\nversion = "1.4.0"\n\n[tool.opencode-release]\n{body}\n')


@given(
    st.dictionaries(st.sampled_from(_KEYS), _toml_value, max_size=6) | st.text(max_size=300).map(lambda t: {"raw": t})
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_configuration(tmp_path: Path, table: dict[str, Any]) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(table["raw"] if set(table) == {"raw"} else _toml(table), encoding="utf-8", errors="surrogatepass")
    bounded(lambda: config.load(path))


# -- release statements as the verifier reads them (verify/statement_checks.py) ---------------

# hostile text in values a message repeats: a newline, NEL, a line separator, a very long value
_HOSTILE_TEXT = ["https://github.com/o/r", "refs/tags/v1.4.0", "a\nb", "\x85", "x\u2028y", "z" * 5000]
_text_or_json = st.text(max_size=30) | st.sampled_from(_HOSTILE_TEXT) | JSON


_SOURCE = st.fixed_dictionaries({"repository": _text_or_json, "ref": _text_or_json})
_PARAMETERS = st.fixed_dictionaries(
    {},
    optional={
        "repository": _text_or_json,
        "ref": _text_or_json,
        "version": _text_or_json,
        "source": _SOURCE | JSON,
        "workflow": _SOURCE | JSON,
    },
)
_PROVENANCE = st.fixed_dictionaries(
    {},
    optional={
        "buildDefinition": st.fixed_dictionaries(
            {"externalParameters": _PARAMETERS | st.sampled_from([[1], "x", 3]) | JSON}
        )
        | JSON,
        "runDetails": st.fixed_dictionaries({"builder": st.fixed_dictionaries({"id": _text_or_json}) | JSON}) | JSON,
    },
)
_SUBJECT = st.fixed_dictionaries({"name": JSON, "digest": st.fixed_dictionaries({"sha256": _text_or_json})})
# Well-formed on the outside (the outer shape is test_in_toto_statements's and the JSON branch's),
# so the examples reach the checks inside; hostile in every value those checks read.
RELEASE_STATEMENT = st.fixed_dictionaries(
    {
        "_type": st.just(statement_checks.STATEMENT_V1),
        "subject": st.lists(_SUBJECT, max_size=2),
        "predicateType": st.sampled_from([SLSA_PROVENANCE_V1, statement_checks.CYCLONEDX]) | _text_or_json,
        "predicate": _PROVENANCE,
    }
)
POLICY = Policy("release@x.local", "http://127.0.0.1/oidc", "https://github.com/o/r", "refs/tags/v*", "urn:b")


def _checked(payload_type: str, payload: bytes) -> None:
    statement = statement_checks.parse_statement("fuzzed.intoto.json", "statement", payload_type, payload)
    statement_checks.verify_dsse_payload("fuzzed.intoto.json", payload, payload)
    for check in (
        lambda: statement_checks.verify_provenance_release("fuzzed", statement, POLICY),
        # each check on its own too: the release check stops at the first that refuses
        lambda: statement_checks.verify_provenance_builder("fuzzed", statement, POLICY),
        lambda: statement_checks.verify_provenance_source("fuzzed", statement, POLICY),
        lambda: statement_checks.verify_provenance_version("fuzzed", statement, "1.4.0"),
        lambda: statement_checks.verify_provenance_subject("fuzzed", statement, "a" * 64),
        lambda: statement_checks.verify_sbom_statement("fuzzed", statement, "a" * 64),
    ):
        bounded(check)


@given(
    st.sampled_from([statement_checks.IN_TOTO_PAYLOAD, "application/json"]),
    RELEASE_STATEMENT.map(lambda d: json.dumps(d).encode())
    | st.binary(max_size=300)
    | JSON.map(lambda d: json.dumps(d).encode()),
)
def test_release_statements_as_the_verifier_reads_them(payload_type: str, payload: bytes) -> None:
    """Hostile statements: every check gives a result or its VerificationError (one line), nothing else."""
    bounded(lambda: _checked(payload_type, payload))
