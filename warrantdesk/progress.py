"""A plain-text progress bar for management commands (imports of chats and of the account directory)."""

import time
from collections.abc import Callable

from django.core.management.base import OutputWrapper

BAR_WIDTH = 30


def plain(text: str) -> str:
    """Style function for ``OutputWrapper.write``: no colour (stderr is red by default)."""
    return text


def progress_bar(stream: OutputWrapper, *, unit: str, min_total: int) -> Callable[[int, int], None]:
    """``report(done, total)`` drawing a bar on ``stream`` when ``total`` reaches ``min_total``:
    redrawn in place on a terminal, one line per tenth otherwise (logs stay short)."""
    tty = stream.isatty()
    started = time.perf_counter()
    shown = {"tenth": -1, "finished": False}

    def report(done: int, total: int) -> None:
        if total < min_total or shown["finished"]:
            return
        share = done / total if total else 1.0
        filled = int(share * BAR_WIDTH)
        line = (
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} "
            f"{done:,}/{total:,} {unit}, {time.perf_counter() - started:.0f} s"
        )
        shown["finished"] = done >= total
        if tty:
            stream.write("\r" + line, style_func=plain, ending="\n" if done >= total else "")
            stream.flush()
        elif int(share * 10) > shown["tenth"]:
            shown["tenth"] = int(share * 10)
            stream.write(line, style_func=plain)

    return report
