"""Musical time: ticks at 480 PPQ from song start, meters, and a tempo map to seconds.

Every conversion is computed from the start of the map (never accumulated step by step), so a long
song has exactly the timing of a short one.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

PPQ = 480
"""Ticks per quarter note, everywhere in backbeat (MIDI files, scheduler, clips)."""


@dataclass(frozen=True, slots=True)
class Meter:
    """A time signature: ``numerator`` beats of 1/``denominator`` notes to the bar."""

    numerator: int = 4
    denominator: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.numerator <= 32 or self.denominator not in (1, 2, 4, 8, 16, 32):
            raise ValueError(f"unsupported meter {self.numerator}/{self.denominator}")

    @property
    def ticks_per_beat(self) -> int:
        return PPQ * 4 // self.denominator

    @property
    def ticks_per_bar(self) -> int:
        return self.ticks_per_beat * self.numerator

    def bar_start(self, bar: int) -> int:
        """Tick at which zero-based ``bar`` starts."""
        return bar * self.ticks_per_bar

    def position(self, tick: int) -> tuple[int, int, int]:
        """(bar, beat, tick within beat), all zero-based, of ``tick``."""
        bar, rest = divmod(tick, self.ticks_per_bar)
        beat, sub = divmod(rest, self.ticks_per_beat)
        return bar, beat, sub


@dataclass(frozen=True, slots=True)
class TempoChange:
    """From ``tick`` on, the tempo is ``bpm`` quarter notes per minute."""

    tick: int
    bpm: float

    def __post_init__(self) -> None:
        if self.tick < 0 or not 1.0 <= self.bpm <= 999.0:
            raise ValueError(f"bad tempo change {self.bpm} bpm at tick {self.tick}")


@dataclass(frozen=True, slots=True)
class TempoMap:
    """Piecewise-constant tempo over ticks. The first change is always at tick 0."""

    changes: tuple[TempoChange, ...] = (TempoChange(0, 120.0),)
    _ticks: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _seconds: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.changes or self.changes[0].tick != 0:
            raise ValueError("a tempo map starts with a change at tick 0")
        ticks = [c.tick for c in self.changes]
        if ticks != sorted(set(ticks)):
            raise ValueError("tempo changes must be at strictly increasing ticks")
        seconds = [0.0]
        for prev, nxt in zip(self.changes, self.changes[1:]):
            seconds.append(seconds[-1] + (nxt.tick - prev.tick) * 60.0 / (prev.bpm * PPQ))
        object.__setattr__(self, "_ticks", tuple(ticks))
        object.__setattr__(self, "_seconds", tuple(seconds))

    @classmethod
    def constant(cls, bpm: float) -> TempoMap:
        return cls((TempoChange(0, float(bpm)),))

    def bpm_at(self, tick: int) -> float:
        return self.changes[bisect.bisect_right(self._ticks, tick) - 1].bpm

    def seconds_at(self, tick: float) -> float:
        """Seconds from tick 0 to ``tick`` (ticks may be fractional)."""
        i = max(bisect.bisect_right(self._ticks, tick) - 1, 0)
        change = self.changes[i]
        return self._seconds[i] + (tick - change.tick) * 60.0 / (change.bpm * PPQ)

    def tick_at(self, seconds: float) -> float:
        """The (fractional) tick reached ``seconds`` after tick 0."""
        i = max(bisect.bisect_right(self._seconds, seconds) - 1, 0)
        change = self.changes[i]
        return change.tick + (seconds - self._seconds[i]) * change.bpm * PPQ / 60.0

    def set_from(self, tick: int, bpm: float) -> TempoMap:
        """A map equal to this one before ``tick`` and ``bpm`` from ``tick`` on."""
        kept = tuple(c for c in self.changes if c.tick < tick)
        return TempoMap(kept + (TempoChange(tick, float(bpm)),))


def ms_per_note(bpm: float, fraction: float) -> float:
    """Milliseconds of a note value (``fraction`` of a whole note, e.g. 1/8) at ``bpm``."""
    return 60_000.0 / bpm * 4.0 * fraction
