"""How the TUI of a browser tab ends: with its tab, with its web server, and on SIGTERM — promptly.

In a browser (``backbeat tui --web``, textual-serve) each tab's TUI is a process whose stdin and
stdout are pipes to the web server. When the server goes away its end of stdin closes: the TUI must
end then, not live on, orphaned. ``watch`` polls stdin for that hang-up (never reading it: the
Textual driver reads it) and asks the app to exit; ``deadline`` makes sure an exit that cannot finish
(its output pipe full and nobody reading) still ends the process after ``GRACE`` seconds.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable

GRACE = 2.0
"""Seconds an asked-for exit may take before the process ends without finishing it."""
POLL_MS = 250
HANG_UP = select.POLLHUP | select.POLLERR | select.POLLNVAL


def watch(fd: int, on_hang_up: Callable[[], None]) -> threading.Thread:
    """A daemon thread that calls ``on_hang_up`` once when ``fd``'s other end closes."""

    def run() -> None:
        poller = select.poll()
        poller.register(fd, 0)  # hang-ups and errors only: what waits on the pipe stays unread
        while True:
            if any(events & HANG_UP for _, events in poller.poll(POLL_MS)):
                on_hang_up()
                return

    thread = threading.Thread(target=run, name="backbeat-lifeline", daemon=True)
    thread.start()
    return thread


def deadline(grace: float = GRACE) -> None:
    """End the process in ``grace`` seconds unless it has ended by then."""
    timer = threading.Timer(grace, os._exit, args=(0,))
    timer.daemon = True
    timer.start()
