"""actions/upload-artifact v7.0.0, as documented.

- `path`: lines of files, folders or globs; a line starting with `!` excludes. The archive's root is
  the least common ancestor of what was found.
- "File permissions are not maintained during artifact upload": every file is stored 0644 here (the
  README's "Permission Loss"), so an executable comes back without its x bit.
- Hidden files (a name, or a folder on its path, starting with `.`) are left out unless
  include-hidden-files is true.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

from _common import fail, get_input, lines, set_output
from _results import call, put


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def main() -> None:
    name = get_input("name", "artifact")
    include = [line for line in lines("path") if not line.startswith("!")]
    exclude = [line[1:].rstrip("/") for line in lines("path") if line.startswith("!")]
    found: dict[Path, Path] = {}
    roots: list[Path] = []
    for pattern in include:
        for match in glob.glob(pattern.rstrip("/") or pattern, recursive=True):
            path = Path(match)
            roots.append(path.resolve() if path.is_dir() else path.resolve().parent)
            for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
                found[file.resolve()] = file
    chosen = []
    for resolved, file in sorted(found.items()):
        relative = Path(os.path.relpath(file))
        text = relative.as_posix()
        if any(fnmatch.fnmatch(text, e) or fnmatch.fnmatch(text, e + "/*") for e in exclude):
            continue
        if get_input("include-hidden-files", "false") != "true" and _hidden(relative):
            continue
        chosen.append(resolved)
    if not chosen:
        message = f"No files were found with the provided path: {get_input('path')}. No artifacts will be uploaded."
        if get_input("if-no-files-found", "warn") == "error":
            fail(message)
        print(f"::warning::{message}")
        return
    base = Path(os.path.commonpath([str(r) for r in roots]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in chosen:
            info = zipfile.ZipInfo(file.relative_to(base).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
    data = buffer.getvalue()
    url = call("CreateArtifact", {"name": name, "version": 4})["signedUploadUrl"]
    put(url + "&comp=block", data)
    put(url + "&comp=blocklist", b"")
    digest = hashlib.sha256(data).hexdigest()
    done = call("FinalizeArtifact", {"name": name, "size": str(len(data)), "hash": f"sha256:{digest}"})
    set_output(artifact_id=str(done.get("artifactId", "")), artifact_digest=digest)
    print(f"Artifact {name} has been successfully uploaded: {len(chosen)} files, {len(data)} bytes")


if __name__ == "__main__":
    if sys.argv[1] == "main":
        main()
