"""The CycloneDX 1.5 strict JSON validator, built once per process.

It is cyclonedx-python-lib's own validator (its bundled strict schema, the
SPDX, JSF and cryptography schemas it registers, Draft 7 with format checks)
with one change: `iri` and `iri-reference` are checked by RFC 3987's mapping
to a URI (section 3.1) and RFC 3986's grammar, not by jsonschema's checker,
which compiles ~40 Earley grammars when jsonschema is imported (1-2 s here)
and runs an Earley parse per URL. Validation itself is never skipped.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import re
import sys
import threading
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

# RFC 3987 section 2.2.
_UCSCHAR = re.compile(
    "[\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    "\U00010000-\U0001fffd\U00020000-\U0002fffd\U00030000-\U0003fffd\U00040000-\U0004fffd"
    "\U00050000-\U0005fffd\U00060000-\U0006fffd\U00070000-\U0007fffd\U00080000-\U0008fffd"
    "\U00090000-\U0009fffd\U000a0000-\U000afffd\U000b0000-\U000bfffd\U000c0000-\U000cfffd"
    "\U000d0000-\U000dfffd\U000e1000-\U000efffd]"
)
_IPRIVATE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")


def _as_uri(value: str) -> str | None:
    """The URI an IRI maps to (its non-ASCII characters percent-encoded), or None when one of
    them may not stand where it is: ucschar anywhere iunreserved is allowed (the URI grammar
    then checks where that is), iprivate only in the query."""
    if value.isascii():
        return value
    fragment = value.find("#")
    query = value.find("?", 0, fragment if fragment >= 0 else len(value))
    query_end = fragment if fragment >= 0 else len(value)
    out = []
    for index, char in enumerate(value):
        if char.isascii():
            out.append(char)
        elif _UCSCHAR.fullmatch(char) or (_IPRIVATE.fullmatch(char) and 0 <= query < index < query_end):
            out.append("%41")  # one pct-encoded octet stands for its UTF-8 octets, syntactically
        else:
            return None
    return "".join(out)


def is_iri(value: object, *, reference: bool = False) -> bool:
    """RFC 3987 IRI (or IRI-reference) syntax."""
    from rfc3986_validator import validate_rfc3986

    if not isinstance(value, str):
        return True  # formats apply to strings only
    uri = _as_uri(value)
    # "\n" because the validator's pattern ends in `$`, which also matches before a final newline.
    return (
        uri is not None
        and "\n" not in uri
        and bool(validate_rfc3986(uri, rule="URI_reference" if reference else "URI"))
    )


def _import_jsonschema() -> None:
    """Import jsonschema with rfc3987_syntax's grammars compiled on first use, not at import.

    jsonschema imports it for its own `iri` checks; a stand-in gives jsonschema a function that
    loads the real module when it is first called, so other users of jsonschema in the process
    get exactly the same checks, and a process that never calls it never pays for it.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    if importlib.util.find_spec("rfc3987_syntax") is None:
        import jsonschema

        return

    def is_valid_syntax(term: str, value: str) -> Any:
        return importlib.import_module("rfc3987_syntax").is_valid_syntax(term, value)

    stand_in = types.ModuleType("rfc3987_syntax")
    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    sys.modules["rfc3987_syntax"] = stand_in
    try:
        import jsonschema  # noqa: F401
    finally:
        if sys.modules.get("rfc3987_syntax") is stand_in:
            del sys.modules["rfc3987_syntax"]


_building = threading.Lock()


def validator() -> Validator:
    """Safe to call from several threads: the first builds it, the others wait for it."""
    with _building:
        return _build()


@functools.cache
def _build() -> Validator:
    _import_jsonschema()
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from jsonschema import Draft7Validator, FormatChecker

    checker = FormatChecker(formats=())
    checker.checkers.update(Draft7Validator.FORMAT_CHECKER.checkers)
    checker.checks("iri")(is_iri)
    checker.checks("iri-reference")(functools.partial(is_iri, reference=True))
    # The library's validator as it builds it (schema, registry, draft), with this format checker.
    library: Validator = JsonStrictValidator(SchemaVersion.V1_5)._validator
    return library.evolve(format_checker=checker)


def problem(document: str) -> str | None:
    """None when `document` is valid CycloneDX 1.5 (strict), else where and why it is not."""
    error = next(validator().iter_errors(json.loads(document)), None)
    if error is None:
        return None
    return f"at {error.json_path}: {error.message}"
