"""Ask the OS for timely wake-ups: 1 ns timer slack, then real-time priority or at least a better nice.

Each step may be refused (no CAP_SYS_NICE, no rtprio limit, not Linux); what was granted is reported,
never assumed, and shows in the engine's telemetry.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from dataclasses import dataclass

_PR_SET_TIMERSLACK = 29
_PR_GET_TIMERSLACK = 30


@dataclass(frozen=True, slots=True)
class Granted:
    """What the OS granted the engine process."""

    priority: str
    """e.g. ``SCHED_FIFO 20``, ``nice -10`` or ``normal (SCHED_FIFO refused: ...)``."""
    timer_slack_ns: int | None
    """The timer slack now in effect (Linux), None where there is no such thing."""


def set_timer_slack(ns: int = 1) -> int | None:
    """Linux: let timers fire ``ns`` after their deadline at most (the default slack is 50 µs)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(ns), 0, 0, 0)
        return int(libc.prctl(_PR_GET_TIMERSLACK, 0, 0, 0, 0))
    except (OSError, AttributeError):
        return None


def raise_priority(rt_priority: int = 20, nice: int = -10) -> str:
    """Try SCHED_FIFO at ``rt_priority``; failing that, ``nice``; describe what stuck."""
    reasons = []
    if rt_priority > 0 and hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt_priority))
            return f"SCHED_FIFO {rt_priority}"
        except OSError as error:
            reasons.append(f"SCHED_FIFO refused: {error.strerror or error}")
    if nice < 0 and hasattr(os, "nice"):
        try:
            before = os.nice(0)
            if os.nice(nice - before) == nice:
                return f"nice {nice}"
        except OSError as error:
            reasons.append(f"nice {nice} refused: {error.strerror or error}")
    return "normal" + (f" ({'; '.join(reasons)})" if reasons else "")


def make_timely(rt_priority: int = 20, nice: int = -10) -> Granted:
    """Timer slack first (it costs nothing), then priority."""
    slack = set_timer_slack(1)
    return Granted(raise_priority(rt_priority, nice), slack)
