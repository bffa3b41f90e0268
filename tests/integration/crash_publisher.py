"""A publisher that SIGKILLs itself at one step boundary: `python -m tests.integration.crash_publisher PUBLIC KEYS LEDGER STEP`."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from opencode_release.artifacts import Ledger
from tests.integration.channel_helpers import repository


def main() -> None:
    public, keys, ledger_dir, kill_at = sys.argv[1:5]

    def on_step(step: str) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    repo = repository(Path(public), Path(keys))
    repo.on_step = on_step
    ledger = Ledger.load(Path(ledger_dir))
    repo.publish(ledger, [ledger.channel])


if __name__ == "__main__":
    main()
