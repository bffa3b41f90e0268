#!/usr/bin/env python3
"""`docker run` stand-in: the container's command as root on the host, over the mounted checkout.

No Docker daemon runs here. The command runs in a private mount namespace (`unshare -m`) with what
the container would give it: the `-v` mounts, `-w`, an environment of the image's variables plus the
`-e` ones only (nothing of the runner's), HOME with no git or pip configuration, a private /tmp, and
the image's interpreter paths (IMAGES below) bound onto the host's. Ownership is the host's: a
checkout owned by the runner user (uid 1001) is another owner's to the root user here, as in the
container. The image itself (glibc, compilers) is the host's: say so wherever it matters.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# What each image family provides at fixed paths, mapped onto the host (image name without tag/digest).
_PY = "/opt/python/cp311-cp311"
IMAGES: dict[str, dict[str, object]] = {
    family: {
        "path": "/opt/rh/gcc-toolset-14/root/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "python_prefix": _PY,
        "static_libs": "/opt/_internal/static-libs-for-embedding-only.tar.xz" if "manylinux" in family else "",
    }
    for family in (
        "quay.io/pypa/manylinux_2_28_x86_64",
        "quay.io/pypa/manylinux_2_28_aarch64",
        "quay.io/pypa/musllinux_1_2_x86_64",
        "quay.io/pypa/musllinux_1_2_aarch64",
    )
}


def parse(argv: list[str]) -> tuple[list[str], list[tuple[str, str]], str, str, list[str]]:
    if not argv or argv[0] != "run":
        sys.exit(f"docker stand-in: only `docker run` is simulated, not: docker {' '.join(argv)}")
    env: list[str] = []
    mounts: list[tuple[str, str]] = []
    workdir = "/"
    args = argv[1:]
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("--rm", "-i", "-t", "--init"):
            continue
        value = args.pop(0) if "=" not in flag else flag.split("=", 1)[1]
        flag = flag.split("=", 1)[0]
        if flag in ("-e", "--env"):
            env.append(value)
        elif flag in ("-v", "--volume"):
            source, target = value.split(":")[:2]
            mounts.append((source, target))
        elif flag in ("-w", "--workdir"):
            workdir = value
        elif flag in ("--platform", "--pull"):
            continue
        else:
            sys.exit(f"docker stand-in: option {flag} is not simulated")
    image, command = args[0], args[1:]
    return env, mounts, workdir, image, command


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        inside(sys.argv[2])
        return
    env, mounts, workdir, image, command = parse(sys.argv[1:])
    family = image.split("@")[0].rsplit(":", 1)[0] if "@" in image or image.count(":") else image
    if family not in IMAGES:
        sys.exit(f"docker stand-in: image {image} is not one the simulation maps onto the host")
    spec = IMAGES[family]
    # not under /tmp: the container gets a /tmp of its own, which hides the host's
    scratch = Path(tempfile.mkdtemp(prefix="docker-standin-", dir="/var/tmp"))
    home = scratch / "home"
    home.mkdir()
    # the image's own variables, and the mark that this "container" is the host (build/stages.py)
    variables = {
        "PATH": str(spec["path"]),
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "OPENCODE_RELEASE_SIMULATED_RUNNER": "1",
    }
    # this machine's way to the package registries (CA bundle, proxies): a container here needs it too
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT", "HTTPS_PROXY", "https_proxy"):
        if name in os.environ:
            variables[name] = os.environ[name]
    # the binaries the simulation hands the build jobs of targets this machine cannot compile
    prebuilt = os.environ.get("OPENCODE_RELEASE_PREBUILT")
    if prebuilt:
        variables["OPENCODE_RELEASE_PREBUILT"] = prebuilt
        mounts.append((prebuilt, prebuilt))
    for item in env:
        name, has_value, value = item.partition("=")
        if has_value:
            variables[name] = value
        elif name in os.environ:
            variables[name] = os.environ[name]
    plan = {
        "mounts": [(str(Path(s).resolve()), t) for s, t in mounts],
        "workdir": workdir,
        "env": variables,
        "command": command,
        "scratch": str(scratch),
        "python_prefix": str(spec["python_prefix"]),
        "host_prefix": sys.base_prefix,
        "static_libs": str(spec["static_libs"]),
        # speed only: the host's package downloads, as a registry mirror would serve them
        "download_cache": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
    }
    (scratch / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    try:
        result = subprocess.run(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                sys.executable,
                __file__,
                "--inside",
                str(scratch / "plan.json"),
            ],
            check=False,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(result.returncode)


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def inside(plan_file: str) -> None:
    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    scratch = Path(plan["scratch"])
    for name in ("upper", "work"):
        (scratch / name).mkdir()
    # /opt of the image: the host's /opt with the image's interpreter paths added on top.
    mount("-t", "overlay", "overlay", "-o", f"lowerdir=/opt,upperdir={scratch}/upper,workdir={scratch}/work", "/opt")
    prefix = Path(plan["python_prefix"])
    prefix.mkdir(parents=True, exist_ok=True)
    mount("--bind", plan["host_prefix"], str(prefix))
    if plan["static_libs"]:
        # manylinux ships libpython.a in this archive; the host's interpreter needs nothing unpacked
        libs = Path(plan["static_libs"])
        libs.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["tar", "-cJf", str(libs), "-T", "/dev/null"], check=True)
    mounts = [*plan["mounts"], *([(plan["download_cache"], "/root/.cache/uv")] if plan["download_cache"] else [])]
    # the interpreter also where it was built to live (its libraries' run paths point there), which
    # may be under the HOME that the image's empty one hides
    mounts.append((plan["host_prefix"], plan["host_prefix"]))
    staged = []
    for index, (source, target) in enumerate(mounts):
        stage = scratch / f"stage-{index}"
        stage.mkdir()
        mount("--bind", source, str(stage))
        staged.append((stage, target))
    # The image's HOME: empty (no .gitconfig, so git trusts no folder owned by someone else); its /tmp.
    mount("--bind", str(scratch / "home"), "/root")
    mount("-t", "tmpfs", "tmpfs", "/tmp")
    for stage, target in staged:
        Path(target).mkdir(parents=True, exist_ok=True)
        mount("--bind", str(stage), target)
    os.chdir(plan["workdir"])
    os.execvpe(plan["command"][0], plan["command"], dict(plan["env"]))


if __name__ == "__main__":
    main()
