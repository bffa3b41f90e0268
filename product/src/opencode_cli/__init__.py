"""OpenCode CLI (sample product released by opencode-release)."""

from ._version import __version__

__all__ = ["__version__"]
