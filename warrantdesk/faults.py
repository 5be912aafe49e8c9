"""Named points where the fault tests (tests/test_faults.py) stop a process before killing it, and where
the browser journey (tests/test_journey.py) holds a process for a moment (``hold``).

``checkpoint(name)`` does nothing unless the environment names that very point in
``WARRANTDESK_FAULT_PAUSE``: then it writes the process id to the file named by ``WARRANTDESK_FAULT_MARKER``
and sleeps until the process is killed. The test waits for the marker and sends SIGKILL: the kill lands at
the same step on every run, without a race against a sleep. Production never sets these variables.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def checkpoint(name: str) -> None:
    if os.environ.get("WARRANTDESK_FAULT_PAUSE") != name:
        return
    if marker := os.environ.get("WARRANTDESK_FAULT_MARKER"):
        Path(marker).write_text(str(os.getpid()))
    while True:  # until SIGKILL
        time.sleep(1)


def hold(name: str) -> None:
    """Sleep the seconds ``WARRANTDESK_FAULT_HOLD`` gives this point (``"export.messages=3"``), else nothing:
    the browser journey holds a small export at its first progress report, which a page polling every
    2 s would otherwise never see before the export is done. Production never sets the variable."""
    point, _, seconds = os.environ.get("WARRANTDESK_FAULT_HOLD", "").partition("=")
    if point == name and seconds:
        time.sleep(float(seconds))
