"""mytool: a small click CLI."""

from ._version import __version__

__all__ = ["__version__"]
