"""Feeding a finished song to the engine a commit horizon ahead of the playhead (owner side, pure).

The engine only ever holds the next moment of music: the feeder hands over events whose tick falls
within ``horizon`` ticks of the playhead, and at the end of the song either finishes or — looping —
sends ``jump(at_tick=end, to_tick=0)`` and goes on feeding the next pass, which the engine holds in
the jump's own queue until the jump executes. Passes are counted in "virtual" ticks
(``pass * end + tick``) so the horizon spans the loop point.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from .events import Event


@dataclass(frozen=True, slots=True)
class Feed:
    """What to send next: ``events`` to schedule, preceded by a loop jump if ``jump`` is set."""

    events: tuple[Event, ...] = ()
    jump: tuple[int, int] | None = None
    """(at_tick, to_tick)."""


class Feeder:
    """Which of a song's events to hand to the engine, given where the playhead is."""

    def __init__(self, events: list[Event], end: int, *, loop: bool = False) -> None:
        self.events = sorted(events, key=Event.sort_key)
        self._ticks = [e.tick for e in self.events]
        self.end = max(end, 1)
        self.loop = loop
        self._index = 0  # next event of the pass being fed
        self._fed_pass = 0
        self._played_pass = 0
        self._last_tick = 0.0

    def rewind(self, tick: float) -> None:
        """Feed again from ``tick`` (the engine was stopped or relocated: its pending events are gone)."""
        self._index = bisect.bisect_left(self._ticks, tick)
        self._fed_pass = self._played_pass = 0
        self._last_tick = tick

    def _observe(self, playhead: float) -> float:
        """The playhead in virtual ticks; a playhead that went back by half a song is a new pass."""
        if self.loop and playhead + self.end / 2 < self._last_tick:
            self._played_pass += 1
        self._last_tick = playhead
        return self._played_pass * self.end + playhead

    def feed(self, playhead: float, horizon: float) -> list[Feed]:
        """Everything due to be handed over with the playhead at ``playhead`` (song ticks)."""
        limit = self._observe(playhead) + horizon
        out: list[Feed] = []
        while True:
            base = self._fed_pass * self.end
            stop = bisect.bisect_left(self._ticks, limit - base, lo=self._index)
            if stop > self._index:
                out.append(Feed(tuple(self.events[self._index : stop])))
                self._index = stop
            if self._index < len(self.events) or not self.loop or base + self.end >= limit:
                return out
            self._fed_pass += 1  # the whole pass is handed over and its end is near: loop
            self._index = 0
            out.append(Feed(jump=(self.end, 0)))

    def finished(self, playhead: float) -> bool:
        """Not looping, everything handed over, and the playhead past the end."""
        return not self.loop and self._index >= len(self.events) and playhead >= self.end
