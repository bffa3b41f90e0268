"""The update client against servers an attacker controls (issue #15): it trusts only the root it was given.

Each test is one door that was open before: a foreign repository trusted on first use, a cached
root winning over the passed one, endless and slow servers, file:// failing, tracebacks.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from opencode_release.channels import update_client
from opencode_release.channels.update_client import UpdateError
from opencode_release.core.errors import UsageError
from tests.conftest import REPO, write_project
from tests.integration.channel_helpers import TARGET, make_ledger, repository, serve, serving

pytestmark = pytest.mark.integration


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path]:
    """Ours (stable 1.4.0) and a foreign repository, other keys, with a 'newer' tampered 9.9.9."""
    ours, foreign = tmp_path / "public", tmp_path / "foreign"
    repository(ours, tmp_path / "keys").publish(make_ledger(tmp_path / "dist", "1.4.0", b"good" * 100), ["stable"])
    repository(foreign, tmp_path / "other-keys").publish(
        make_ledger(tmp_path / "d2", "9.9.9", b"EVIL" * 100), ["stable"]
    )
    return ours, foreign


class _Endless(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(64):  # 64 MiB, far past every cap; stops so the test's server can too
                self.wfile.write(b" " * (1 << 20))
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(20):  # a byte a second: never silent long enough for a socket timeout
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_without_a_root_it_refuses_and_says_how_to_pin_one(repos: tuple[Path, Path], tmp_path: Path) -> None:
    with serve(repos[1]) as url, pytest.raises(UsageError) as caught:
        update_client.check(url, "stable", tmp_path / "cache", trusted_root=None, target=TARGET)
    assert "--root FILE" in str(caught.value) and "--trust-on-first-use" in str(caught.value)
    assert caught.value.exit_code == 2
    assert not (tmp_path / "cache").exists()


def test_a_foreign_repository_is_refused_under_our_root_even_after_a_cache_of_its_own(
    repos: tuple[Path, Path], tmp_path: Path
) -> None:
    ours, foreign = repos
    cache = tmp_path / "cache"
    with serve(foreign) as url:
        tofu = update_client.check(url, "stable", cache, trusted_root=None, trust_on_first_use=True, target=TARGET)
        assert tofu is not None and tofu.version == "9.9.9"  # what trust on first use gives an attacker
        with pytest.raises(UpdateError, match=r"refused by TUF verification: \w+Error"):
            update_client.check(url, "stable", cache, trusted_root=ours / "metadata/1.root.json", target=TARGET)
    assert not (cache / "targets" / tofu.path.name).exists()  # the foreign cache was discarded


def test_the_passed_root_wins_over_the_cache(repos: tuple[Path, Path], tmp_path: Path) -> None:
    ours, foreign = repos
    cache = tmp_path / "cache"
    with serve(ours) as url:
        found = update_client.check(url, "stable", cache, trusted_root=ours / "metadata/1.root.json", target=TARGET)
        assert found is not None and found.version == "1.4.0"
        # the cache now holds our root; a different passed root is the one used
        with pytest.raises(UpdateError, match="refused by TUF verification"):
            update_client.check(url, "stable", cache, trusted_root=foreign / "metadata/1.root.json", target=TARGET)


def test_file_urls_work(repos: tuple[Path, Path], tmp_path: Path) -> None:
    ours, _ = repos
    found = update_client.check(
        ours.as_uri(), "stable", tmp_path / "cache", trusted_root=ours / "metadata/1.root.json", target=TARGET
    )
    assert found is not None and found.path.read_bytes() == b"good" * 100


def test_an_endless_root_is_cut_at_the_length_cap_in_bounded_memory(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        with serving(_Endless) as url, pytest.raises(UpdateError, match="DownloadLengthMismatchError"):
            update_client.check(url, "stable", tmp_path / "cache", trusted_root=None, trust_on_first_use=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak:,} bytes"


def test_a_slow_server_meets_the_overall_deadline(tmp_path: Path) -> None:
    started = time.monotonic()
    with serving(_Slow) as url, pytest.raises(UpdateError, match=r"SlowRetrievalError: .*deadline"):
        update_client.check(
            url, "stable", tmp_path / "cache", trusted_root=None, trust_on_first_use=True, deadline_seconds=3
        )
    assert time.monotonic() - started < 10


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from opencode_release.cli import main; sys.exit(main())",
            "update-check",
            "--channel",
            "stable",
            "--target",
            TARGET,
            *args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_command_exit_codes_and_one_line_failures(repos: tuple[Path, Path], tmp_path: Path) -> None:
    ours, _ = repos
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    unreachable = _cli("--repo", closed, "--root", str(ours / "metadata/1.root.json"), "--cache", str(tmp_path / "a"))
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith(f"error: {closed}: download failed: ")
    assert len(unreachable.stderr.strip().splitlines()) == 1 and "Traceback" not in unreachable.stderr

    no_root = _cli("--repo", ours.as_uri(), "--cache", str(tmp_path / "b"))
    assert no_root.returncode == 2 and "no root of trust" in no_root.stderr

    tofu = _cli("--repo", ours.as_uri(), "--cache", str(tmp_path / "c"), "--trust-on-first-use", "--json")
    assert tofu.returncode == 0, tofu.stderr
    assert "WARNING: --trust-on-first-use" in tofu.stderr and '"version": "1.4.0"' in tofu.stdout


def test_a_root_pinned_in_the_product_s_configuration_is_trusted_and_a_passed_root_wins(
    repos: tuple[Path, Path], tmp_path: Path
) -> None:
    """channels.update-root: the root shipped with the product, used by update-check --project."""
    ours, foreign = repos
    product = tmp_path / "product"
    (product / "release").mkdir(parents=True)
    pinned = product / "release" / "tuf-root.json"
    pinned.write_bytes((ours / "metadata/1.root.json").read_bytes())
    write_project(product, 'name = "o"\npackage = "p"\n[channels]\nupdate-root = "release/tuf-root.json"\n')
    found = _cli("--repo", ours.as_uri(), "--project", str(product), "--cache", str(tmp_path / "a"), "--json")
    assert found.returncode == 0, found.stderr
    assert '"version": "1.4.0"' in found.stdout and "WARNING" not in found.stderr
    # The same product pin refuses the foreign repository (its root is not the one shipped).
    refused = _cli("--repo", foreign.as_uri(), "--project", str(product), "--cache", str(tmp_path / "b"))
    assert refused.returncode == 1 and "refused by TUF verification" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    # --root wins over the configuration.
    passed = _cli(
        "--repo",
        foreign.as_uri(),
        "--project",
        str(product),
        "--root",
        str(foreign / "metadata/1.root.json"),
        "--cache",
        str(tmp_path / "c"),
        "--json",
    )
    assert passed.returncode == 0 and '"version": "9.9.9"' in passed.stdout, passed.stderr
    # A pin that is not there: a configuration error (exit 2), one line, before any download.
    pinned.unlink()
    missing = _cli("--repo", ours.as_uri(), "--project", str(product), "--cache", str(tmp_path / "d"))
    assert (
        missing.returncode == 2
        and "channels.update-root: found 'release/tuf-root.json': no such file" in missing.stderr
    )
    assert len(missing.stderr.strip().splitlines()) == 1 and not (tmp_path / "d").exists()


def _tampered_root(root: bytes) -> bytes:
    document = json.loads(root)
    document["signed"]["expires"] = "2099-01-01T00:00:00Z"  # signed by nobody now
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda root, timestamp: b"not json", "DeserializationError"),
        (lambda root, timestamp: timestamp, "a timestamp role, not root"),
        (lambda root, timestamp: _tampered_root(root), "UnsignedMetadataError"),
    ],
)
def test_a_bad_local_root_is_the_caller_s_mistake_named_before_any_download(
    repos: tuple[Path, Path], tmp_path: Path, make: Any, why: str
) -> None:
    """A --root that is not a self-signed root is exit 2 naming that file, not the server's fault."""
    ours, _ = repos
    bad = tmp_path / "root.json"
    bad.write_bytes(make((ours / "metadata/1.root.json").read_bytes(), (ours / "metadata/timestamp.json").read_bytes()))
    with serve(ours) as url:
        proc = _cli("--repo", url, "--root", str(bad), "--cache", str(tmp_path / "cache"), "--json")
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.startswith(f"error: {bad}: not TUF root metadata signed by its own keys (") and why in proc.stderr
    )
    assert len(proc.stderr.strip().splitlines()) == 1 and json.loads(proc.stdout)["exit_code"] == 2
    assert not (tmp_path / "cache").exists()


def test_a_bad_channel_or_cache_is_exit_2_naming_the_flag(repos: tuple[Path, Path], tmp_path: Path) -> None:
    ours, _ = repos
    root = str(ours / "metadata/1.root.json")
    channel = _cli("--repo", ours.as_uri(), "--root", root, "--channel", "lts/../x", "--cache", str(tmp_path / "a"))
    assert channel.returncode == 2 and channel.stderr.startswith("error: --channel 'lts/../x': expected stable")
    (tmp_path / "file").write_text("")
    cache = _cli("--repo", ours.as_uri(), "--root", root, "--cache", str(tmp_path / "file" / "cache"))
    assert cache.returncode == 2
    assert (
        cache.stderr
        == f"error: --cache {tmp_path / 'file' / 'cache'}: Not a directory; pass a folder this user can write\n"
    )
