"""Shared by the action stand-ins (copied into each one: act copies an action's folder alone).

Inputs arrive as INPUT_<NAME> (hyphens kept, as the runner passes them); outputs
and state go to the files named by GITHUB_OUTPUT and GITHUB_STATE.
"""

from __future__ import annotations

import os
import sys


def get_input(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper()}", "").strip() or default


def lines(name: str) -> list[str]:
    return [line.strip() for line in get_input(name).splitlines() if line.strip()]


def set_output(**values: str) -> None:
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
        for key, value in values.items():
            handle.write(f"{key.replace('_', '-')}={value}\n")


def save_state(**values: str) -> None:
    with open(os.environ["GITHUB_STATE"], "a", encoding="utf-8") as handle:
        for key, value in values.items():
            handle.write(f"{key}={value}\n")


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)
