"""A task for tests/deployment/test_workers.py: records each run of it in a file, one line per run."""

import os
import time

from django.tasks import task


@task()
def record_run(number: int, log_path: str) -> int:
    time.sleep(0.05)  # long enough for the workers to overlap
    line = f"{number} {os.environ.get('PROBE_WORKER', '?')}\n".encode()
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one write with O_APPEND: lines of two processes never interleave
    finally:
        os.close(fd)
    return number
