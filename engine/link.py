"""Ableton Link in the engine process: the session's tempo, bar phase and start/stop, read here.

The engine keeps the clock, so Link time is read in this process, next to the deadlines it turns
into. ``LinkSync`` is driven by the engine loop: ``sync`` (every ``POLL`` s, in the loop's soft work)
compares the scheduler with the session and corrects it; ``start``, ``stop`` and ``tempo_map`` stand
in for the scheduler's own when Link is on.

* **Clock.** Link's clock (``Clock.micros()``, CLOCK_MONOTONIC_RAW on Linux) is not the engine's
  ``time.perf_counter``: their offset is sampled at every sync, bracketed by two perf_counter reads
  (well under a microsecond apart), and each conversion uses the latest sample.
* **Phase.** The quantum is one bar in quarter-note beats. At every sync the playhead's place in
  its bar is compared with the session's bar phase and the transport re-anchored by the difference
  (wrapped to half a bar), so bar downbeats fall on the session's. That difference, in ms, is the
  measured ``phase_offset_ms`` before correction.
* **Tempo.** A tempo change of the session (a peer's) is adopted at once; backbeat's own tempo
  changes (``SetTempo``, when their tick comes due) are proposed to the session. A song's own tempo
  (``SetTempoMap``) becomes the session's only when backbeat is alone in it: with peers, the
  session's tempo wins. Which session backbeat is in is Link's rule: when two meet, the one founded
  more than half a second earlier wins, and two founded closer together than that are ordered by
  their random ids (so a peer enabled at the same moment may join backbeat's, at its tempo).
* **Start.** A start is a quantized launch: alone, at once (and the session's bar starts there);
  with peers, at the next moment the session's phase matches the start tick's.
* **Start/stop sync** (when enabled): backbeat's starts and stops are committed to the session, and
  the session's (a peer's) start backbeat from the top (tick 0) on the session's first bar line at or
  after its start time (a start noticed more than ``LATE_START`` late: after the time it was
  noticed), and stop it.

The ``link`` module (LinkPython-extern, the optional ``link`` extra) is imported only here, only when
Link is asked for. Link enables network discovery on every interface: tests and benchmarks run it
inside a loopback-only network namespace.
"""

from __future__ import annotations

import time
from typing import Any

from .commands import LinkStatus
from .errors import LinkUnavailableError
from .scheduler import Scheduler, Send
from .time import PPQ, Meter, TempoMap

POLL = 0.01
"""Seconds between syncs: Link's own timeline is affine between tempo changes, so a sync mostly
confirms; this bounds how long a peer's tempo or start takes to reach us."""
TEMPO_EPSILON = 1e-3
"""BPM: Link's tempo wobbles in the last digits as it compensates peers' clock drift; that is no change."""
LATE_START = 0.1
"""A session start noticed more than this late is joined at the next matching phase instead. Link
sends a peer's change up to 50 ms after its previous broadcast (its discovery rate limit), so a
start that follows another change closely arrives ~50 ms late; with a sync's period and its forced
slack that is up to 80 ms. A start within this still plays on its own bar line, its first notes
late by no more than the engine's default ``stale_after`` (so played, not dropped)."""


def open_link(bpm: float, meter: Meter, start_stop: bool) -> LinkSync:
    """Join the Link session (enabling network discovery).

    Raises:
        LinkUnavailableError: the ``link`` module (LinkPython-extern) is not installed.
    """
    try:
        import link
    except ImportError:
        raise LinkUnavailableError(
            "Ableton Link needs the link extra: pip install 'backbeat[link]' (LinkPython-extern)"
        ) from None
    session = link.Link(bpm)
    session.startStopSyncEnabled = start_stop
    session.enabled = True
    return LinkSync(session, meter, start_stop)


class LinkSync:
    """The engine's side of a Link session (``session`` is a ``link.Link``, or a fake in tests)."""

    def __init__(self, session: Any, meter: Meter, start_stop: bool, clock=time.perf_counter) -> None:
        self.session, self.start_stop, self.now = session, start_stop, clock
        self._micros = session.clock().micros
        self.quantum = meter.ticks_per_bar / PPQ
        """One bar, in quarter-note beats."""
        self.bar = meter.ticks_per_bar
        self.offset = 0.0
        """Link seconds minus perf_counter seconds, latest sample."""
        self.sample()
        state = session.captureAppSessionState()
        self.session_bpm = state.tempo()
        """The session's tempo as the engine last accounted for it (followed, or proposed): a sync
        that reads another one tells a peer's change from ours by it."""
        self.session_playing = state.isPlaying()
        self.phase_offset_ms = 0.0
        self.phase_max_ms = 0.0
        """Largest |phase offset| since the last telemetry."""
        self.next_sync = 0.0

    # --- time ------------------------------------------------------------------------------------

    def sample(self) -> None:
        before = self.now()
        micros = self._micros()
        after = self.now()
        self.offset = micros / 1e6 - (before + after) / 2

    def to_link(self, t: float) -> int:
        return round((t + self.offset) * 1e6)

    def from_link(self, micros: float) -> float:
        return micros / 1e6 - self.offset

    def _next_phase(self, state: Any, at: float, tick: float) -> float:
        """The first time at or after ``at`` when the session's bar phase is ``tick``'s."""
        beat = state.beatAtTime(self.to_link(at), self.quantum)
        wait = ((tick % self.bar) / PPQ - beat) % self.quantum
        return self.from_link(state.timeAtBeat(beat + wait, self.quantum))

    # --- commands the engine hands over --------------------------------------------------------

    def tempo_map(self, scheduler: Scheduler, tempo: TempoMap, now: float) -> None:
        """A song's own tempo: the session's when backbeat is alone in it, else the session's wins."""
        state = self.session.captureAppSessionState()
        if self.session.numPeers() == 0:
            scheduler.set_tempo_map(tempo, now=now)
            bpm = tempo.bpm_at(round(scheduler.playhead(now)))
            state.setTempo(bpm, self.to_link(now))
            self.session.commitAppSessionState(state)
            self.session_bpm = bpm
        else:  # followed now, so the next sync must not take the session's tempo for a change
            self.session_bpm = state.tempo()
            scheduler.set_tempo_map(TempoMap.constant(self.session_bpm), now=now)

    def start(self, scheduler: Scheduler, now: float, tick: float | None) -> list[Send]:
        """A quantized launch at ``tick`` (None: where the transport stands)."""
        self.sample()
        tick = _position(scheduler, now) if tick is None else tick
        state = self.session.captureAppSessionState()
        if self.session.numPeers() == 0:  # alone: the session's bar begins with us, now
            state.requestBeatAtTime((tick % self.bar) / PPQ, self.to_link(now), self.quantum)
            at = now
        else:
            at = self._next_phase(state, now, tick)
        if self.start_stop:
            state.setIsPlaying(True, self.to_link(at))
            self.session_playing = True
        self.session.commitAppSessionState(state)
        return scheduler.start(at, tick)

    def stop(self, scheduler: Scheduler, now: float) -> list[Send]:
        if self.start_stop and self.session_playing:
            state = self.session.captureAppSessionState()
            state.setIsPlaying(False, self.to_link(now))
            self.session.commitAppSessionState(state)
            self.session_playing = False
        return scheduler.stop(now)

    # --- the loop's sync ------------------------------------------------------------------------

    def sync(self, scheduler: Scheduler, now: float) -> list[Send]:
        """Follow the session: its tempo, our bar phase onto its, its start/stop. Returns sends to
        make at once (the note-offs of a stop)."""
        self.sample()
        self.next_sync = now + POLL
        state = self.session.captureAppSessionState()
        sends = self._start_stop(scheduler, state, now) if self.start_stop else []
        self._tempo(scheduler, state, now)
        if scheduler.playing:
            self._phase(scheduler, state, now)
        return sends

    def _tempo(self, scheduler: Scheduler, state: Any, now: float) -> None:
        session_bpm = state.tempo()
        ours = scheduler.tempo.bpm_at(max(round(scheduler.playhead(now)), 0))
        if abs(session_bpm - self.session_bpm) > TEMPO_EPSILON:  # the session moved: follow it
            self.session_bpm = session_bpm
            if abs(ours - session_bpm) > TEMPO_EPSILON:
                scheduler.set_tempo_map(TempoMap.constant(session_bpm), now=now)
        elif abs(ours - self.session_bpm) > TEMPO_EPSILON:  # our own change came due: propose it,
            at = now                                         # from the moment it took effect here
            if scheduler.playing:
                playhead = scheduler.playhead(now)
                at = scheduler.deadline(max(c.tick for c in scheduler.tempo.changes if c.tick <= max(playhead, 0)))
            state.setTempo(ours, self.to_link(min(at, now)))
            self.session.commitAppSessionState(state)
            self.session_bpm = ours

    def _phase(self, scheduler: Scheduler, state: Any, now: float) -> None:
        playhead = scheduler.playhead(now)
        target = state.beatAtTime(self.to_link(now), self.quantum) * PPQ
        diff = (target - playhead + self.bar / 2) % self.bar - self.bar / 2  # ticks, within half a bar
        bpm = scheduler.tempo.bpm_at(max(round(playhead), 0))
        self.phase_offset_ms = diff * 60_000 / (bpm * PPQ)  # > 0: we were behind the session
        self.phase_max_ms = max(self.phase_max_ms, abs(self.phase_offset_ms))
        if diff:
            scheduler.sync(now, playhead + diff)

    def _start_stop(self, scheduler: Scheduler, state: Any, now: float) -> list[Send]:
        playing = state.isPlaying()
        if playing == self.session_playing:
            return []
        self.session_playing = playing
        if playing and not scheduler.playing:  # a peer started the session: play from the top
            tick = 0
            at = self.from_link(state.timeForIsPlaying())
            at = self._next_phase(state, at if at >= now - LATE_START else now, tick)
            return scheduler.start(at, tick)
        if not playing and scheduler.playing:
            return scheduler.stop(now)
        return []

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> LinkStatus:
        # The tempo is read from the session, like the peer count, not from what the engine last
        # accounted for: both describe the session at this moment, in the same frame.
        bpm = self.session.captureAppSessionState().tempo()
        status = LinkStatus(
            peers=self.session.numPeers(), bpm=bpm, phase_offset_ms=self.phase_offset_ms,
            phase_max_ms=self.phase_max_ms, playing=self.session_playing, start_stop=self.start_stop,
        )
        self.phase_max_ms = 0.0
        return status

    def close(self) -> None:
        self.session.enabled = False


def _position(scheduler: Scheduler, now: float) -> float:
    """Where a start continues from: a stop before a quantized launch leaves the playhead short of
    the launch tick (negative for a start at 0), and the launch tick is where it stands."""
    return max(scheduler.playhead(now), 0.0)
