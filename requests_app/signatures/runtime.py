"""Running pyHanko's asynchronous validation from synchronous code (also inside a running event
loop), with pyHanko's loggers quietened while a check runs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_PYHANKO_LOGGERS = ("pyhanko", "pyhanko_certvalidator")
_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: dict[str, int] = {}


@contextmanager
def _quiet_pyhanko() -> Iterator[None]:
    """Raise pyHanko's loggers to ERROR while a check runs.

    pyHanko logs every expected trust failure (expired, untrusted, revoked, a modified file) as a
    WARNING with a full traceback; the finding already says all of that. Errors still get through.
    Reference-counted, so concurrent checks in several threads restore the levels exactly once.
    """
    global _quiet_depth
    with _quiet_lock:
        if _quiet_depth == 0:
            for name in _PYHANKO_LOGGERS:
                log = logging.getLogger(name)
                _quiet_saved[name] = log.level
                if log.getEffectiveLevel() < logging.ERROR:
                    log.setLevel(logging.ERROR)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for name, level in _quiet_saved.items():
                    logging.getLogger(name).setLevel(level)
                _quiet_saved.clear()


def _run(coro_factory):
    """Run an async pyHanko job to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()
