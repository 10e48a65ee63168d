"""A fake clock and a recording sink that drive the pure scheduler exactly as the engine loop does,
and a fake engine client built on them (the player's engine seam)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from backbeat.engine.commands import EngineConfig, PortStatus, Telemetry
from backbeat.engine.events import NOTE_OFF, NOTE_ON, Event
from backbeat.engine.scheduler import Scheduler, Send
from backbeat.engine.time import TempoMap


@dataclass(frozen=True, slots=True)
class Sent:
    """What the recording sink saw: a send, and the fake time at which it happened."""

    at: float
    send: Send

    @property
    def kind(self) -> int:
        status = self.send.message[0] & 0xF0
        if status == NOTE_ON and self.send.message[2] == 0:
            return NOTE_OFF
        return status

    @property
    def key(self) -> tuple[str, int, int]:
        return self.send.port, self.send.message[0] & 0x0F, self.send.message[1]


@dataclass
class Rig:
    """A scheduler, a fake clock and every send in order (the engine loop with zero lateness)."""

    scheduler: Scheduler
    now: float = 0.0
    sent: list[Sent] = field(default_factory=list)

    def record(self, sends: list[Send]) -> list[Send]:
        self.sent.extend(Sent(self.now, s) for s in sends)
        return sends

    def advance(self, seconds: float) -> None:
        """Move the clock forward, sending everything that falls due exactly at its deadline."""
        end = self.now + seconds
        while (due := self.scheduler.next_deadline()) is not None and due <= end:
            self.now = max(self.now, due)
            self.record(self.scheduler.pop_due(self.now))
        self.now = end
        self.record(self.scheduler.pop_due(self.now))

    def run_to(self, t: float) -> None:
        self.advance(t - self.now)

    def messages(self) -> list[tuple[float, tuple[int, ...]]]:
        return [(s.send.deadline, s.send.message) for s in self.sent]

    def notes(self) -> list[tuple[int, str, tuple[int, ...]]]:
        """(tick, track, message) of every send, in order."""
        return [(s.send.tick, s.send.track, s.send.message) for s in self.sent]


class FakeEngine:
    """``EngineClient`` without the process: its commands drive a ``Rig`` on the caller's clock.

    Every command first sends what fell due before it (at exactly its deadline, as the engine loop
    with zero lateness would), then acts at ``clock()``; telemetry is read from the scheduler when
    asked. Give ``Player`` ``engine_factory=FakeEngine.on(trio.current_time)`` and
    ``clock=trio.current_time``, and run under trio's ``MockClock``: the real feed loop then plays
    a song in virtual time, exactly. ``fileno`` is a pipe that becomes readable only when the
    transport changed by itself (``external``: what a followed MIDI clock does); the player then
    reads the telemetry, as it does the engine's.
    """

    def __init__(self, config: EngineConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.rig = Rig(Scheduler(("out",), config.tempo))
        self.alive = True
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        self.following = config.follow is not None

    @classmethod
    def on(cls, clock: Callable[[], float]) -> Callable[[EngineConfig], FakeEngine]:
        """A factory for ``Player(engine_factory=...)``, its engines on ``clock``."""
        made: list[FakeEngine] = []

        def factory(config: EngineConfig) -> FakeEngine:
            made.append(cls(config, clock))
            return made[-1]

        factory.made = made  # type: ignore[attr-defined]
        return factory

    def now(self) -> float:
        """Send everything due by ``clock()``; that time."""
        self.rig.run_to(max(self.rig.now, self.clock()))
        return self.rig.now

    @property
    def scheduler(self) -> Scheduler:
        return self.rig.scheduler

    def notes(self) -> list[tuple[int, str, tuple[int, ...]]]:
        """(tick, track, message) of every send so far, in order."""
        self.now()
        return self.rig.notes()

    # --- EngineClient's commands -------------------------------------------------------------------

    def schedule(self, events: Iterable[Event]) -> None:
        self.scheduler.schedule(list(events), now=self.now())

    def replace_from(self, track: str, tick: int, events: Iterable[Event]) -> None:
        self.scheduler.replace_from(track, tick, list(events), now=self.now())

    def set_tempo(self, tick: int, bpm: float) -> None:
        self.scheduler.set_tempo(tick, bpm, now=self.now())

    def set_tempo_map(self, tempo: TempoMap) -> None:
        self.scheduler.set_tempo_map(tempo, now=self.now())

    def start(self, tick: int | None = 0) -> None:
        self.rig.record(self.scheduler.start(self.now(), tick))

    def stop(self) -> None:
        self.rig.record(self.scheduler.stop(self.now()))

    def jump(self, at_tick: int | None, to_tick: int) -> None:
        self.rig.record(self.scheduler.jump(at_tick, to_tick, now=self.now()))

    def panic(self) -> None:
        self.rig.record(self.scheduler.panic(self.now()))

    def external(self, kind: str, tick: int = 0) -> None:
        """The followed clock sends start (from ``tick``) or stop: the engine acts and tells its owner."""
        now = self.now()
        self.rig.record(self.scheduler.start(now, tick) if kind == "start" else self.scheduler.stop(now))
        os.write(self._write, b"!")

    # --- telemetry and lifecycle ---------------------------------------------------------------------

    @property
    def telemetry(self) -> Telemetry:
        now = self.now()
        s = self.scheduler
        anchor_time, anchor_tick = s.anchor
        head = s.playhead(now)
        return Telemetry(
            time=now, state="playing" if s.playing else "stopped", tick=int(head), bpm=s.tempo.bpm_at(int(head)),
            anchor_time=anchor_time, anchor_tick=anchor_tick, p50_ms=0.0, p99_ms=0.0, max_ms=0.0, early_count=0,
            early_max_ms=0.0, samples=len(self.rig.sent), events_sent=len(self.rig.sent), dropped_stale=s.dropped_stale,
            ports=(PortStatus("out", "notes", True),), api="fake", priority="normal", timer_slack_ns=None,
            clock="follow" if self.following else "internal", pid=0,
        )

    def fileno(self) -> int:
        return self._read

    def recv_telemetry(self) -> Telemetry:
        try:
            os.read(self._read, 64)
        except BlockingIOError:
            pass
        return self.telemetry

    def take_notices(self) -> list:
        return []

    def shutdown(self) -> None:
        """End every note and close (the player calls this from a worker thread: no clock there)."""
        if self.alive:
            self.rig.record(self.scheduler.stop(self.rig.now))
        self.kill()

    def kill(self) -> None:
        if self.alive:
            self.alive = False
            os.close(self._read)
            os.close(self._write)
