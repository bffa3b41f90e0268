"""Invoke tasks: the same collection as the `opencode-release` console script."""

from opencode_release.cli import namespace as ns

__all__ = ["ns"]
