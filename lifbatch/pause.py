"""Test pauses: named points in a command's life where the fault tests stop it.

``LIFBATCH_TEST_PAUSE_AT=name`` makes :func:`pause` say "lifbatch-test: paused at
name" on stderr, then wait to be killed (or woken by SIGCONT and let go after its
sleep); it does nothing otherwise. One module, imported by every writer, so that
no module reaches into another's private test hook.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["pause"]


def pause(name: str) -> None:
    """Stop here when the tests ask for it (``LIFBATCH_TEST_PAUSE_AT=name``)."""
    if os.environ.get("LIFBATCH_TEST_PAUSE_AT") == name:
        print(f"lifbatch-test: paused at {name}", file=sys.stderr, flush=True)
        seconds = float(os.environ.get("LIFBATCH_TEST_PAUSE_SECONDS", "600"))
        time.sleep(seconds)
