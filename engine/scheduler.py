"""The scheduler: pending events, transport and note ledger, as a pure state machine.

No clock and no I/O: every method that depends on time takes ``now`` (seconds on the engine's one
clock, ``time.perf_counter`` in the engine process; a fake clock in tests). The engine loop asks
``next_deadline()``, sleeps until then, and sends what ``pop_due(now)`` returns.

Time. While playing, the transport is anchored: tick ``anchor_tick`` plays at ``anchor_time`` and
``deadline(tick) = anchor_time + tempo.seconds_at(tick) - tempo.seconds_at(anchor_tick)``. Every
deadline is computed from the anchor, never by adding up intervals, so nothing drifts. Tempo changes
and jumps re-anchor; nothing else does.

Jumps are barriers in the command stream. Events scheduled before ``jump(at_tick, to_tick)`` at ticks
>= ``at_tick`` belong to the old continuation and are dropped when the jump executes (the ledger ends
what was sounding); events scheduled after it belong to the new continuation and wait in the jump's
own queue until then. At ``at_tick``'s deadline the transport re-anchors so that ``to_tick`` plays
exactly when ``at_tick`` would have. Looping a song is ``jump(at_tick=end, to_tick=0)`` followed by
scheduling the song again.

Deadlines of sends never go backwards: an event scheduled after its time (the owner was late) is sent
at once, with the time it became known as its deadline; a note-on more than ``stale_after`` seconds
late is dropped rather than played out of time (its note-off is then filtered by the ledger).

On every (port, channel, note) the sends alternate note-on, note-off exactly: a note-on for a key
that sounds is preceded by a note-off (a retrigger; see ``engine.ledger``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import BadCommandError
from .events import CONTROL_CHANGE, NOTE_OFF, NOTE_ON, Event
from .ledger import NoteLedger
from .time import TempoMap

PANIC_CONTROLLERS = (123, 120, 64)
"""Sent with value 0 on every channel by ``panic``: all notes off, all sound off, sustain pedal up."""
STOP_CONTROLLERS = (64, 123)
"""Sent with value 0 by ``stop`` after the ledger's note-offs, on every channel the music used since
the last stop: sustain pedal up, then all notes off (a synth keeps notes the pedal holds through an
all-notes-off, so the pedal goes first). A safety net for a note-off a receiver missed."""

_NEVER = float("-inf")

# A pending event: (tick, order at that tick, sequence number, not-before time, event). The first
# three make every entry unique, so the heap never compares events.
_Entry = tuple[int, int, int, float, Event]


@dataclass(frozen=True, slots=True)
class Send:
    """One message to put on ``port`` at ``deadline`` (seconds on the engine clock)."""

    deadline: float
    port: str
    message: tuple[int, ...]
    tick: int
    track: str = ""


@dataclass(frozen=True, slots=True)
class Transport:
    """A transport change (``start``, ``stop`` or ``jump``) to ``tick``, effective at ``time``."""

    kind: str
    tick: int
    time: float
    from_tick: int = 0
    """For a jump: the tick the old continuation had reached."""


@dataclass(slots=True)
class _Jump:
    at_tick: int | None
    to_tick: int
    issued_at: float | None
    queue: list[_Entry] = field(default_factory=list)


class Scheduler:
    """Pending events per track, the transport and the note ledger for a set of output ports."""

    def __init__(
        self, ports: Iterable[str] = ("out",), tempo: TempoMap | None = None, *, stale_after: float = 0.1
    ) -> None:
        self.ports = tuple(ports)
        if not self.ports:
            raise BadCommandError("a scheduler needs at least one output port")
        self.tempo = tempo or TempoMap()
        self.stale_after = stale_after
        self.ledger = NoteLedger()
        self.playing = False
        self.dropped_stale = 0
        """Note-ons dropped because they came due more than ``stale_after`` late."""
        self.notices: list[Transport] = []
        """Transport changes, in order; the engine loop drains this for MIDI clock out."""
        self._pending: list[_Entry] = []
        self._jump: _Jump | None = None
        self._seq = itertools.count()
        self._position = 0.0  # the playhead while stopped
        self._anchor_time = 0.0
        self._anchor_tick = 0.0
        self._anchor_seconds = 0.0  # tempo.seconds_at(anchor_tick), cached
        self._floor = _NEVER  # the latest deadline handed out: sends never go back in time
        self._used: set[tuple[str, int]] = set()  # (port, channel) that carried a message since the last stop

    # --- queries ---------------------------------------------------------------------------------

    def deadline(self, tick: float) -> float:
        """When ``tick`` plays under the current anchor and tempo map (meaningful while playing)."""
        return self._anchor_time + self.tempo.seconds_at(tick) - self._anchor_seconds

    def playhead(self, now: float) -> float:
        """The (fractional) tick playing at ``now``; while stopped, where the transport stands."""
        if not self.playing:
            return self._position
        return self.tempo.tick_at(self._anchor_seconds + (now - self._anchor_time))

    @property
    def anchor(self) -> tuple[float, float]:
        """(time, tick): while playing, ``tick`` plays at ``time``."""
        return self._anchor_time, self._anchor_tick

    @property
    def pending_jump(self) -> tuple[int | None, int] | None:
        """(at_tick, to_tick) of the jump waiting to execute, if any."""
        return None if self._jump is None else (self._jump.at_tick, self._jump.to_tick)

    def pending_events(self) -> list[Event]:
        """Events of the current continuation not yet sent, in send order."""
        return [entry[4] for entry in sorted(self._pending)]

    def queued_events(self) -> list[Event]:
        """Events waiting for the pending jump (the new continuation), in send order."""
        return [] if self._jump is None else [entry[4] for entry in sorted(self._jump.queue)]

    def next_deadline(self) -> float | None:
        """When ``pop_due`` will next have something to return; None while stopped or idle."""
        if not self.playing:
            return None
        head = self._live_head()
        jump_time = self._jump_time()
        candidates = [t for t in (None if head is None else self.deadline(head[0]), jump_time) if t is not None]
        return min(candidates) if candidates else None

    # --- feeding ---------------------------------------------------------------------------------

    def schedule(self, events: Iterable[Event], *, now: float | None = None) -> None:
        """Add events: to the pending jump's continuation if a jump is pending, else to the current one.

        ``now``, when given, is when the events became known: none is sent with an earlier deadline.
        """
        events = _validated(events)
        heap = self._jump.queue if self._jump is not None else self._pending
        not_before = _NEVER if now is None else now
        for ev in events:
            tick, order = ev.sort_key()
            heapq.heappush(heap, (tick, order, next(self._seq), not_before, ev))

    def replace_from(self, track: str, tick: int, events: Iterable[Event], *, now: float | None = None) -> None:
        """Drop ``track``'s events at ticks >= ``tick``, end at ``tick`` the notes that cuts off, add ``events``.

        The notes ended are those of ``track`` that would still sound at ``tick`` once its later
        events are gone: sounding now (the ledger) or started by a kept event, with their note-offs
        dropped. While a jump is pending this applies to the jump's continuation, which starts with
        nothing sounding.
        """
        events = _validated(events)
        if tick < 0:
            raise BadCommandError(f"replace_from at negative tick {tick}")
        heap = self._jump.queue if self._jump is not None else self._pending
        kept = [e for e in heap if not (e[4].track == track and e[0] >= tick)]
        sounding: dict[tuple[int, int], int] = {}
        if self._jump is None:
            for r in self.ledger.sounding(track):
                pitch = r.key[1:]
                sounding[pitch] = max(sounding.get(pitch, 0), r.count)
        for entry in sorted(e for e in kept if e[4].track == track):
            ev = entry[4]
            pitch = (ev.channel, ev.message[1]) if len(ev.message) > 1 else (-1, -1)
            if ev.kind == NOTE_ON:
                sounding[pitch] = sounding.get(pitch, 0) + 1
            elif ev.kind == NOTE_OFF and sounding.get(pitch, 0) > 0:
                sounding[pitch] -= 1
        heapq.heapify(kept)
        if self._jump is not None:
            self._jump.queue = kept
        else:
            self._pending = kept
        cut = [
            Event(tick, track, (NOTE_OFF | channel, note, 0))
            for (channel, note), count in sorted(sounding.items())
            for _ in range(count)
        ]
        self.schedule(cut + events, now=now)

    # --- transport -------------------------------------------------------------------------------

    def set_tempo(self, tick: int, bpm: float, *, now: float | None = None) -> None:
        """From ``tick`` on the tempo is ``bpm`` (later changes are dropped, as in ``TempoMap.set_from``).

        With ``now`` while playing, the transport first re-anchors at the playhead, so a change at a
        tick already played never moves the past.
        """
        try:
            tempo = self.tempo.set_from(tick, bpm)
        except ValueError as error:
            raise BadCommandError(str(error)) from None
        self.set_tempo_map(tempo, now=now)

    def set_tempo_map(self, tempo: TempoMap, *, now: float | None = None) -> None:
        """Replace the whole tempo map (re-anchoring at ``now`` as ``set_tempo`` does)."""
        if self.playing and now is not None:
            self._reanchor(now, self.playhead(now))
        self.tempo = tempo
        self._anchor_seconds = tempo.seconds_at(self._anchor_tick)

    def start(self, now: float, tick: float | None = 0) -> list[Send]:
        """Play from ``tick`` (None: from where the transport stands) at ``now``.

        Pending events before ``tick`` are dropped. Returns note-offs if notes were sounding (a start
        while playing relocates).
        """
        if tick is None:
            tick = self.playhead(now)
        if tick < 0:
            raise BadCommandError(f"start at negative tick {tick}")
        offs = self._release_all(now)
        self.playing = True
        self._reanchor(now, tick)
        self._pending = [e for e in self._pending if e[0] >= tick]
        heapq.heapify(self._pending)
        self.notices.append(Transport("start", round(tick), now))
        return offs

    def stop(self, now: float) -> list[Send]:
        """Stop at ``now``: drop every pending event and any pending jump; note-offs for all that
        sounds, then ``STOP_CONTROLLERS`` on every channel used since the last stop.

        Events scheduled after a stop wait for the next ``start``.
        """
        was_playing = self.playing
        if was_playing:
            self._position = self.playhead(now)
            self.playing = False
        self._pending = []
        self._jump = None
        out = self._release_all(now)
        deadline, tick = max(now, self._floor), round(self.playhead(now))
        for port, channel in sorted(self._used):
            for controller in STOP_CONTROLLERS:
                out.append(Send(deadline, port, (CONTROL_CHANGE | channel, controller, 0), tick))
        self._used.clear()
        if was_playing:
            self.notices.append(Transport("stop", round(self._position), now))
        return out

    def jump(self, at_tick: int | None, to_tick: int, *, now: float | None = None) -> list[Send]:
        """Arrange for ``to_tick`` to play when ``at_tick`` would have (None: now); replaces any pending jump.

        ``now`` is when the jump was asked for: a jump at a tick already played executes at once.
        While stopped, a jump ``at_tick=None`` relocates immediately (and returns its note-offs,
        normally none); otherwise the jump executes inside ``pop_due``.
        """
        if to_tick < 0 or (at_tick is not None and at_tick < 0):
            raise BadCommandError(f"jump from {at_tick} to {to_tick}")
        self._jump = _Jump(at_tick, to_tick, now)
        if not self.playing and at_tick is None:
            return self._execute_jump(now if now is not None else self._floor)
        return []

    def sync(self, now: float, tick: float) -> None:
        """Re-anchor so that ``tick`` plays at ``now`` (phase lock to an external clock)."""
        if self.playing:
            self._reanchor(now, tick)

    def panic(self, now: float, port: str | None = None) -> list[Send]:
        """Note-offs for everything sounding, then CC123, CC120 and CC64=0 on all channels of all ports.

        The transport keeps its state: a panic silences, it does not stop. With ``port``, only that
        port is silenced (it was just reconnected: its listener may hold notes it never heard end).
        """
        ports = self.ports if port is None else (port,)
        out = self._release_all(now, port)
        deadline = max(now, self._floor)
        tick = round(self.playhead(now))
        for p in ports:
            for channel in range(16):
                for controller in PANIC_CONTROLLERS:
                    out.append(Send(deadline, p, (CONTROL_CHANGE | channel, controller, 0), tick))
        self._used.difference_update((p, c) for p in ports for c in range(16))
        return out

    # --- playing ---------------------------------------------------------------------------------

    def pop_due(self, now: float) -> list[Send]:
        """Everything due at ``now``, in send order (executing a pending jump when its time comes)."""
        out: list[Send] = []
        if not self.playing:
            return out
        while True:
            head = self._live_head()
            if head is not None:
                due = self.deadline(head[0])
                if due <= now:
                    heapq.heappop(self._pending)
                    self._emit(head, due, now, out)
                    continue
            jump_time = self._jump_time()
            if jump_time is not None and jump_time <= now:
                out.extend(self._execute_jump(now if jump_time == _NEVER else jump_time))
                continue
            return out

    # --- internals -------------------------------------------------------------------------------

    def _live_head(self) -> _Entry | None:
        """The next pending event that still belongs to the current continuation."""
        if not self._pending:
            return None
        head = self._pending[0]
        jump = self._jump
        if jump is not None and (jump.at_tick is None or head[0] >= jump.at_tick):
            return None  # it will be dropped when the jump executes
        return head

    def _jump_time(self) -> float | None:
        jump = self._jump
        if jump is None or not self.playing:
            return None
        if jump.at_tick is None:
            return _NEVER if jump.issued_at is None else jump.issued_at
        due = self.deadline(jump.at_tick)
        return due if jump.issued_at is None else max(due, jump.issued_at)

    def _execute_jump(self, at: float) -> list[Send]:
        jump = self._jump
        assert jump is not None
        self._jump = None
        offs = self._release_all(at)
        from_tick = round(self.playhead(at))
        self._pending = jump.queue
        if self.playing:
            self._reanchor(max(at, self._floor), jump.to_tick)
        else:
            self._position = float(jump.to_tick)
        self.notices.append(Transport("jump", jump.to_tick, max(at, self._floor), from_tick))
        return offs

    def _reanchor(self, now: float, tick: float) -> None:
        self._anchor_time = now
        self._anchor_tick = float(tick)
        self._anchor_seconds = self.tempo.seconds_at(tick)

    def _emit(self, entry: _Entry, due: float, now: float, out: list[Send]) -> None:
        tick, _, _, not_before, ev = entry
        kind = ev.kind
        if kind == NOTE_ON and now - due > self.stale_after:
            self.dropped_stale += 1
            return
        deadline = max(due, not_before, self._floor)
        self._floor = deadline
        message, track, channel = ev.message, ev.track, ev.channel
        for port in self.ports:
            self._used.add((port, channel))
        if kind == NOTE_ON:
            for port in self.ports:
                if self.ledger.note_on((port, channel, message[1]), track):  # sounding: retrigger
                    out.append(Send(deadline, port, (NOTE_OFF | channel, message[1], 0), tick, track))
                out.append(Send(deadline, port, message, tick, track))
        elif kind == NOTE_OFF:
            for port in self.ports:
                if self.ledger.note_off((port, channel, message[1]), track):
                    out.append(Send(deadline, port, message, tick, track))
        else:
            for port in self.ports:
                out.append(Send(deadline, port, message, tick, track))

    def _release_all(self, now: float, port: str | None = None) -> list[Send]:
        deadline = max(now, self._floor)
        self._floor = deadline
        tick = round(self.playhead(now))
        return [Send(deadline, r.key[0], r.message(), tick, r.track) for r in self.ledger.release_all(port)]


def _validated(events: Iterable[Event]) -> list[Event]:
    """The events as a list, or BadCommandError if any is not a channel message at a tick >= 0."""
    events = list(events)
    for ev in events:
        msg = ev.message
        if ev.tick < 0 or not msg or not 0x80 <= msg[0] <= 0xEF or any(not 0 <= b <= 127 for b in msg[1:]):
            raise BadCommandError(f"bad event {ev!r}")
        if msg[0] & 0xF0 in (NOTE_ON, NOTE_OFF) and len(msg) != 3:
            raise BadCommandError(f"bad note message {msg!r}")
    return events
