"""`[tool.opencode-release.smoke]` and `.build`: how each binary is built and what it must pass before packaging."""

from __future__ import annotations

from dataclasses import dataclass

from ._toml_dataclass import setting

# The names build/inspection/hardening.py reads (a test keeps the two the same).
HARDENING_FEATURES = ("pie", "nx", "relro", "full-relro", "stack-protector", "fortify", "cfg", "high-entropy-va")


@dataclass(frozen=True, slots=True)
class SmokeCommand:
    """An extra command the smoke test runs (in `[[tool.opencode-release.smoke.commands]]`)."""

    args: tuple[str, ...] = setting((), "the arguments after the binary", '["greet", "world"]')
    expect: str = setting("", "a regular expression its standard output must match (search)", '"hello world"')
    exit_code: int = setting(0, "the exit code it must return", "0")


@dataclass(frozen=True, slots=True)
class SmokeSettings:
    """The smoke test each binary built here passes, from an empty folder with an empty environment."""

    version_args: tuple[str, ...] = setting(("--version",), "how the binary prints its version", '["--version"]')
    version_pattern: str = setting(
        r"(^|\s)v?{version}$",
        "a regular expression ({version} stands for the escaped release version) "
        "the first line of that output must match",
        '"^mytool, version {version}$"',
    )
    handshake: bool = setting(False, "check the OpenCode wire-protocol handshake (`serve --stdio`)", "true")
    commands: tuple[SmokeCommand, ...] = setting(
        (), "extra commands with their expected output", '[{args = ["greet", "x"], expect = "hello x"}]'
    )


@dataclass(frozen=True, slots=True)
class BuildSettings:
    """The product's own build environment: a virtual environment per target with its runtime dependencies."""

    lock: str = setting(
        "requirements.lock",
        "pinned requirements (pip format, hashes allowed) installed into the build environment when the file "
        "exists; otherwise [project].dependencies are resolved there",
        '"requirements.lock"',
    )
    isolated: bool = setting(
        True, "compile inside that environment (false: in the pipeline's own interpreter, as before)", "true"
    )
    hardening: tuple[str, ...] = setting(
        ("nx",),
        "the exploit mitigations every built program must have, read from the binary by the inspect stage "
        f"(any of {', '.join(HARDENING_FEATURES)}; one a format has no such thing as is not asked of it); a "
        "binary without one is refused. On Linux the build passes the compiler the flags that give them "
        "(recorded in the ledger). What each binary has is recorded either way (ledger, procurement packet, "
        "PW.6). A static libpython not compiled position-independent cannot link as PIE, so pie is the "
        "product's choice",
        '["pie", "nx", "full-relro"]',
    )


def check_build(build: BuildSettings, where: str, problems: list[str], table: str) -> None:
    unknown = [name for name in build.hardening if name not in HARDENING_FEATURES]
    if unknown:
        problems.append(
            f"{where}: {table}.build.hardening: unknown {', '.join(map(repr, unknown))}; expected some of "
            f"{', '.join(HARDENING_FEATURES)}"
        )
