"""Private scratch directories for plaintext that must not outlive a killed process.

``scratch_dir(kind)`` makes a 0700 directory under ``FILE_UPLOAD_TEMP_DIR`` (or the system's temporary
directory) whose name carries the process id: ``warrantdesk-<kind>-<pid>-<random>``. Its user removes it
when done; a process killed outright (SIGKILL, OOM) cannot, so ``scratch_sweep()`` (run by
``manage.py task_worker`` at start) removes those of processes of this machine that no longer exist. A
directory of a live process, or of a process id in use again, is left alone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

_NAME = re.compile(r"warrantdesk-[a-z]+-(\d+)-")


def scratch_root() -> Path:
    return Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())


def scratch_dir(kind: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"warrantdesk-{kind}-{os.getpid()}-", dir=scratch_root()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def scratch_sweep() -> list[str]:
    """Remove the scratch directories of dead processes; the names removed."""
    removed = []
    for path in scratch_root().glob("warrantdesk-*-*-*"):
        match = _NAME.match(path.name)
        if match and path.is_dir() and not path.is_symlink() and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed
