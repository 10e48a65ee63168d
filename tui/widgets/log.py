"""The log: the daemon's ``log`` and ``swap`` events, and the TUI's own one-line notes and errors.

Every entry is one line of text (wrapped to the width of the log, never cut off); ``plain`` gives
them back as plain strings (tests read it).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rich.text import Text
from textual.widgets import RichLog

LEVEL_STYLE = {"info": "", "warning": "yellow", "error": "bold red"}


def swap_line(swap: dict[str, Any]) -> tuple[str, str]:
    """A ``swap`` event as (text, style): ``bar 25  jump chorus 2  pending``."""
    state = "landed" if swap.get("landed") else "pending"
    text = f"bar {swap.get('at_bar')}  {swap.get('kind')} {swap.get('detail', '')}  {state}"
    return text, "green" if swap.get("landed") else "cyan"


class EventLog(RichLog):
    """A scrolling log, newest at the bottom."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, max_lines=1000, **kwargs)
        self.plain: deque[str] = deque(maxlen=1000)
        """The lines written, as plain text (as many as the log keeps)."""

    def line(self, message: str, style: str = "") -> None:
        """Write one line (only the first line of ``message``: a traceback never reaches the log)."""
        first = (message.strip().splitlines() or [""])[0]
        stamp = time.strftime("%H:%M:%S")
        self.plain.append(first)
        self.write(Text.assemble((stamp + " ", "grey50"), (first, style)))

    def note(self, message: str) -> None:
        self.line(message)

    def error(self, message: str) -> None:
        self.line(message, LEVEL_STYLE["error"])

    def daemon_log(self, data: dict[str, Any]) -> None:
        level = str(data.get("level", "info"))
        self.line(str(data.get("message", "")), LEVEL_STYLE.get(level, ""))

    def swap(self, data: dict[str, Any]) -> None:
        self.line(*swap_line(data))
