"""engine.link with a fake Link session on a fake clock: exact phase, tempo and launch arithmetic."""

from __future__ import annotations

import builtins

import pytest

from backbeat.engine import link as link_module
from backbeat.engine.errors import LinkUnavailableError
from backbeat.engine.link import LinkSync, open_link
from backbeat.engine.scheduler import Scheduler
from backbeat.engine.time import PPQ, Meter, TempoMap

OFFSET = 0.25
"""Link's clock runs a quarter second ahead of the engine's (as measured on this machine)."""


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class State:
    """An affine Link timeline: ``beat0`` at ``time0`` (micros), ``bpm``."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.bpm, self.time0, self.beat0 = s.bpm, s.time0, s.beat0
        self.playing, self.play_time = s.playing, s.play_time

    def tempo(self): return self.bpm
    def beatAtTime(self, t, q): return self.beat0 + (t - self.time0) / 1e6 * self.bpm / 60
    def phaseAtTime(self, t, q): return self.beatAtTime(t, q) % q
    def timeAtBeat(self, b, q): return self.time0 + (b - self.beat0) * 60 / self.bpm * 1e6

    def setTempo(self, bpm, t):
        self.beat0, self.time0, self.bpm = self.beatAtTime(t, 4), t, bpm

    def requestBeatAtTime(self, beat, t, q):
        if self.s.peers == 0:
            self.beat0, self.time0 = beat, t

    def isPlaying(self): return self.playing
    def setIsPlaying(self, playing, t): self.playing, self.play_time = playing, t
    def timeForIsPlaying(self): return self.play_time


class Session:
    def __init__(self, clock: Clock, bpm: float = 120.0, peers: int = 1) -> None:
        self.clock_ = clock
        self.bpm, self.time0, self.beat0, self.peers = bpm, 0.0, 0.0, peers
        self.playing, self.play_time, self.enabled = False, 0, True

    def clock(self):
        return type("C", (), {"micros": lambda _: round((self.clock_() + OFFSET) * 1e6)})()

    def numPeers(self): return self.peers
    def captureAppSessionState(self): return State(self)

    def commitAppSessionState(self, st: State) -> None:
        self.bpm, self.time0, self.beat0, self.playing, self.play_time = st.bpm, st.time0, st.beat0, st.playing, st.play_time


def setup(bpm: float = 120.0, peers: int = 1, start_stop: bool = False):
    clock = Clock()
    session = Session(clock, bpm, peers)
    return clock, session, LinkSync(session, Meter(), start_stop, clock=clock), Scheduler(["out"], TempoMap.constant(bpm))


def session_phase(session: Session, t: float) -> float:
    return State(session).phaseAtTime((t + OFFSET) * 1e6, 4)


def test_a_start_with_peers_waits_for_the_sessions_next_bar_line_and_stays_on_it():
    clock, session, sync, scheduler = setup()
    sync.start(scheduler, clock(), 0)
    at = scheduler.deadline(0)
    assert at >= clock() and session_phase(session, at) == pytest.approx(0, abs=1e-6)
    clock.t = at + 0.3
    scheduler.sync(clock(), scheduler.playhead(clock()) + 7)  # drift 7 ticks off the session
    sync.sync(scheduler, clock())
    assert sync.phase_offset_ms == pytest.approx(-7 * 60_000 / (120 * PPQ), abs=1e-3)
    assert session_phase(session, scheduler.deadline(4 * PPQ)) == pytest.approx(0, abs=1e-6)


def test_alone_backbeat_starts_at_once_and_the_sessions_bar_starts_with_it():
    clock, session, sync, scheduler = setup(peers=0)
    sync.start(scheduler, clock(), 0)
    assert scheduler.deadline(0) == clock() and session_phase(session, clock()) == pytest.approx(0, abs=1e-6)


def test_a_peers_tempo_is_adopted_and_our_own_change_is_proposed_from_where_it_took_effect():
    clock, session, sync, scheduler = setup()
    sync.start(scheduler, clock(), 0)
    clock.t += 2.5
    session.bpm = 130.0  # a peer (a tempo change keeps the beat at that moment; fine for this test)
    sync.sync(scheduler, clock())
    assert scheduler.tempo.bpm_at(round(scheduler.playhead(clock()))) == 130.0
    change = (round(scheduler.playhead(clock())) // 1920 + 1) * 1920
    scheduler.set_tempo(change, 90.0, now=clock())
    took_effect = scheduler.deadline(change)
    clock.t = took_effect + 0.004
    sync.sync(scheduler, clock())
    assert session.bpm == 90.0 and session.time0 == pytest.approx((took_effect + OFFSET) * 1e6, abs=1)


def test_a_songs_own_tempo_sets_the_session_only_when_alone():
    clock, session, sync, scheduler = setup(peers=1)
    sync.tempo_map(scheduler, TempoMap.constant(95), clock())
    assert session.bpm == 120.0 and scheduler.tempo.bpm_at(0) == 120.0
    session.peers = 0
    sync.tempo_map(scheduler, TempoMap.constant(95), clock())
    assert session.bpm == 95.0 and scheduler.tempo.bpm_at(0) == 95.0


def test_a_song_sent_right_after_joining_a_peers_session_follows_it_and_the_status_says_so():
    clock, session, sync, scheduler = setup(bpm=100.0, peers=0)  # alone, at the song's tempo
    session.bpm, session.peers = 130.0, 1  # Link joined a peer's session; no sync has run since
    sync.tempo_map(scheduler, TempoMap.constant(100), clock())
    sync.start(scheduler, clock(), 0)
    followed = scheduler.tempo
    assert followed.bpm_at(0) == 130.0 and sync.status().bpm == 130.0
    clock.t += 0.01
    sync.sync(scheduler, clock())
    assert session.bpm == 130.0 and scheduler.tempo is followed, "nothing to follow or propose"
    session.bpm = 140.0  # a peer's change, not yet synced: the status reads the session
    assert sync.status().bpm == 140.0


def test_start_stop_sync_shares_our_start_and_follows_the_sessions():
    clock, session, sync, scheduler = setup(start_stop=True)
    sync.start(scheduler, clock(), 0)
    assert session.playing and session.play_time == round((scheduler.deadline(0) + OFFSET) * 1e6)
    sync.stop(scheduler, clock())
    assert not session.playing and not scheduler.playing
    session.playing, session.play_time = True, round((clock() + 0.01 + OFFSET) * 1e6)  # a peer starts
    sync.sync(scheduler, clock())
    assert scheduler.playing and session_phase(session, scheduler.deadline(0)) == pytest.approx(0, abs=1e-6)
    assert scheduler.deadline(0) >= clock() + 0.01
    session.playing = False
    assert sync.sync(scheduler, clock()) == [] and not scheduler.playing


def test_a_peers_start_that_link_delivered_late_still_plays_on_its_own_bar_line():
    # 120 BPM from Link time 0: bar lines every 2 s of Link time, so at perf_counter 101.75 (Link 102.0).
    clock, session, sync, scheduler = setup(start_stop=True)
    launch = 101.68  # perf_counter; the session's first bar line at or after it is 101.75
    session.playing, session.play_time = True, round((launch + OFFSET) * 1e6)
    clock.t = 101.77  # noticed 90 ms late (Link's 50 ms broadcast limit, a sync's period, load)
    sync.sync(scheduler, clock())
    assert scheduler.deadline(0) == pytest.approx(101.75, abs=1e-6)


def test_a_peers_start_noticed_long_after_it_joins_at_the_next_bar_line():
    clock, session, sync, scheduler = setup(start_stop=True)
    session.playing, session.play_time = True, round((101.68 + OFFSET) * 1e6)
    clock.t = 102.2  # half a second late: that bar line is long gone, and so is its first bar
    sync.sync(scheduler, clock())
    assert scheduler.deadline(0) == pytest.approx(103.75, abs=1e-6)


def test_without_the_link_module_the_error_says_how_to_get_it(monkeypatch):
    real = builtins.__import__

    def no_link(name, *args, **kwargs):
        if name == "link":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_link)
    with pytest.raises(LinkUnavailableError, match=r"backbeat\[link\]"):
        open_link(120.0, Meter(), False)
    assert link_module.POLL <= 0.02
