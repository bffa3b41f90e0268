"""actions/download-artifact v8.0.1, as documented: `name` -> its files into `path`; `pattern` (or
neither) -> each artifact into path/<artifact name>/ unless merge-multiple is true. Files come back
as the zip holds them (0644: upload-artifact keeps no permissions). Entries leaving `path` are refused."""

from __future__ import annotations

import fnmatch
import io
import os
import sys
import zipfile
from pathlib import Path

from _common import fail, get_input, set_output
from _results import call, get


def main() -> None:
    name, pattern = get_input("name"), get_input("pattern")
    dest = Path(os.path.expanduser(get_input("path", os.environ["GITHUB_WORKSPACE"]))).resolve()
    listed = call("ListArtifacts", {"nameFilter": name} if name else {}).get("artifacts", [])
    chosen = [a for a in listed if not pattern or fnmatch.fnmatch(a["name"], pattern)]
    if name and not chosen:
        fail(f"Unable to download artifact(s): Artifact not found for name: {name}")
    merge = get_input("merge-multiple", "false") == "true"
    for artifact in sorted(chosen, key=lambda a: str(a["name"])):
        data = get(call("GetSignedArtifactURL", {"name": artifact["name"]})["signedUrl"])
        target = dest if (name or merge) else dest / artifact["name"]
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():
                out = (target / member.filename).resolve()
                if not out.is_relative_to(target):
                    fail(f"artifact {artifact['name']}: entry {member.filename} is outside {target}")
                if member.is_dir():
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(archive.read(member))
                out.chmod(0o644)
        print(f"Artifact {artifact['name']} was downloaded to {target}")
    set_output(download_path=str(dest))


if __name__ == "__main__":
    if sys.argv[1] == "main":
        main()
