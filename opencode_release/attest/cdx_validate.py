"""The CycloneDX 1.5 strict JSON validator, built once per process.

Importing the validator costs about two seconds (jsonschema's IRI format
checker compiles a grammar at import) and building it reads the schemas; a
release writes several SBOMs, so one validator serves them all. Validation
itself is never skipped.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cyclonedx.validation.json import JsonStrictValidator


@functools.cache
def validator() -> JsonStrictValidator:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_5)


def problem(document: str) -> str | None:
    """None when `document` is valid CycloneDX 1.5 (strict), else where and why it is not."""
    error = validator().validate_str(document)
    if error is None:
        return None
    data = error.data
    where = getattr(data, "json_path", "$")
    message = getattr(data, "message", str(data))
    return f"at {where}: {message}"
