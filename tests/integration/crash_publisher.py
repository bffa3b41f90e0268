"""A publisher that SIGKILLs itself at one step boundary.

`python -m tests.integration.crash_publisher PUBLIC KEYS LEDGER STEP NOW` (NOW: ISO time, so
the metadata it signs matches the reference run's).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from pathlib import Path

from opencode_release.core.ledger import Ledger
from tests.integration.channel_helpers import repository


def main() -> None:
    public, keys, ledger_dir, kill_at, now = sys.argv[1:6]

    def on_step(step: str) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    repo = repository(Path(public), Path(keys), now=dt.datetime.fromisoformat(now))
    repo.on_step = on_step
    ledger = Ledger.load(Path(ledger_dir))
    repo.publish(ledger, [ledger.channel])


if __name__ == "__main__":
    main()
