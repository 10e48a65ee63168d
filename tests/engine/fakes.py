"""A fake clock and a recording sink that drive the pure scheduler exactly as the engine loop does."""

from __future__ import annotations

from dataclasses import dataclass, field

from backbeat.engine.events import NOTE_OFF, NOTE_ON
from backbeat.engine.scheduler import Scheduler, Send


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
