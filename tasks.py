"""Invoke tasks: thin wrappers over the commands of `opencode-release` (opencode_release/cli/tasks.py)."""

from opencode_release.cli.tasks import namespace as ns

__all__ = ["ns"]
