"""MIDI clock: 24 pulses per quarter note out (derived from the transport), and following a clock in.

``ClockOut`` generates the pulses from the scheduler's own tempo map and anchor, so clock and notes
share one timeline: a pulse every 20 ticks (480 PPQ / 24) at ``scheduler.deadline(tick)``, Start or
Continue after a Song Position Pointer on start, Stop on stop, and Stop + SPP + Continue on a jump
(receivers ignore SPP while running).

``ClockFollower`` does the reverse: pulses stamped on arrival become a tempo (a least-squares fit over
the last beat of pulses, which smooths the jitter of the transport) and a phase (the fitted time of the
latest pulse), and Start/Stop/Continue/SPP become transport actions. Both are pure: the engine loop
feeds them times and applies what they return.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .scheduler import Scheduler, Transport
from .time import PPQ

CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
TICKS_PER_PULSE = PPQ // 24
TICKS_PER_SIXTEENTH = PPQ // 4
"""Song Position Pointer counts sixteenth notes."""


def song_position(tick: int) -> tuple[int, int, int]:
    """The SPP message for ``tick`` (rounded down to a sixteenth; 14 bits, LSB first)."""
    sixteenths = min(max(tick, 0) // TICKS_PER_SIXTEENTH, 0x3FFF)
    return (SONG_POSITION, sixteenths & 0x7F, sixteenths >> 7)


def _next_pulse(tick: float) -> int:
    """The first pulse tick at or after ``tick``."""
    return -(-int(tick + 1e-6) // TICKS_PER_PULSE) * TICKS_PER_PULSE


class ClockOut:
    """Which clock messages the transport calls for, and when the next pulse is due."""

    def __init__(self) -> None:
        self.running = False
        self.next_tick = 0

    def on_transport(self, change: Transport) -> list[tuple[int, ...]]:
        """Messages to send at once for a transport change."""
        if change.kind == "start":
            was_running = self.running
            self.running, self.next_tick = True, _next_pulse(change.tick)
            begin = [song_position(change.tick), (START,) if change.tick == 0 else (CONTINUE,)]
            return [(STOP,), *begin] if was_running else begin
        if change.kind == "stop":
            was_running, self.running = self.running, False
            return [(STOP,)] if was_running else []
        if change.kind == "jump":
            self.next_tick = _next_pulse(change.tick)
            if self.running:
                return [(STOP,), song_position(change.tick), (CONTINUE,)]
            return [song_position(change.tick)]
        return []

    def next_deadline(self, scheduler: Scheduler) -> float | None:
        return scheduler.deadline(self.next_tick) if self.running and scheduler.playing else None

    def pop_due(self, scheduler: Scheduler, now: float) -> list[tuple[float, int]]:
        """(deadline, tick) of every pulse due at ``now``."""
        due: list[tuple[float, int]] = []
        if not (self.running and scheduler.playing):
            return due
        while (deadline := scheduler.deadline(self.next_tick)) <= now:
            due.append((deadline, self.next_tick))
            self.next_tick += TICKS_PER_PULSE
        return due


@dataclass(frozen=True, slots=True)
class Follow:
    """An action for the scheduler: ``start`` at ``tick``, ``stop``, or ``sync`` (``tick`` plays at
    ``time`` and the tempo is ``bpm``)."""

    kind: str
    time: float
    tick: int = 0
    bpm: float = 0.0


class ClockFollower:
    """Tempo and transport from an external MIDI clock."""

    def __init__(self, window: int = 24) -> None:
        self._times: deque[float] = deque(maxlen=window + 1)
        self.state = "stopped"  # stopped | armed (Start/Continue seen, waiting for a pulse) | running
        self.position = 0
        """Where the next Continue starts, in ticks (set by SPP and by Stop)."""
        self.start_tick = 0
        self.pulses = 0
        self.bpm: float | None = None

    @property
    def tick(self) -> int:
        return self.start_tick + self.pulses * TICKS_PER_PULSE

    def feed(self, message: list[int] | tuple[int, ...], stamp: float) -> list[Follow]:
        """One incoming message, stamped on arrival; the actions it calls for."""
        status = message[0] if message else 0
        if status == START:
            self.state, self.position = "armed", 0
        elif status == CONTINUE:
            self.state = "armed"
        elif status == SONG_POSITION and len(message) == 3 and self.state != "running":
            self.position = (message[1] | message[2] << 7) * TICKS_PER_SIXTEENTH
        elif status == STOP and self.state != "stopped":
            was_running, self.state = self.state == "running", "stopped"
            if was_running:
                self.position = self.tick
                return [Follow("stop", stamp)]
        elif status == CLOCK:
            return self._pulse(stamp)
        return []

    def rebase(self, delta: int) -> None:
        """Our transport jumped by ``delta`` ticks (a loop): shift how external pulses map to ticks."""
        if self.state == "running":
            self.start_tick += delta

    def _pulse(self, stamp: float) -> list[Follow]:
        if self.state == "armed":
            # The first pulse after Start/Continue is the downbeat at the song position.
            self.state, self.start_tick, self.pulses = "running", self.position, 0
            self._times.clear()
            self._times.append(stamp)
            return [Follow("start", stamp, self.start_tick)]
        self._times.append(stamp)  # stopped: keep measuring tempo, as hardware displays do
        if self.state != "running":
            self._fit()
            return []
        self.pulses += 1
        fitted = self._fit()
        if fitted is None or self.bpm is None:
            return []
        return [Follow("sync", fitted, self.tick, self.bpm)]

    def _fit(self) -> float | None:
        """Least-squares line through the recent pulses: sets ``bpm``; returns the fitted latest time."""
        n = len(self._times)
        if n < 3:
            return None
        mean_k = (n - 1) / 2
        mean_t = sum(self._times) / n
        num = sum((k - mean_k) * (t - mean_t) for k, t in enumerate(self._times))
        den = sum((k - mean_k) ** 2 for k in range(n))
        period = num / den
        if period <= 0:
            return None
        self.bpm = min(max(60.0 / (period * 24), 1.0), 999.0)
        return mean_t + (n - 1 - mean_k) * period
