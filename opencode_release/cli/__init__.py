"""The roof: the console script `opencode-release` (argparse, `program`) and the invoke collection (`tasks`).

Both are built from the same commands (`registry`); see `command` for how to add one.
"""

from __future__ import annotations

from .program import main

__all__ = ["main"]
