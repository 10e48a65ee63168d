"""Ableton Link against a second peer in this process: tempo both ways, start/stop sync, and bar
downbeats at a JACK receiver on the session's phase. Runs only inside a loopback-only network
namespace (test_namespace.py re-runs this file there)."""

from __future__ import annotations

import time

import pytest

from backbeat.benchmarks import netns

pytestmark = pytest.mark.skipif(
    not netns.inside(), reason="runs only inside a loopback-only network namespace (tests/link/test_namespace.py runs it there)")

link = pytest.importorskip("link")

from backbeat.engine.client import EngineClient  # noqa: E402
from backbeat.engine.commands import EngineConfig, Telemetry  # noqa: E402
from backbeat.engine.time import TempoMap  # noqa: E402

BAR = 4
FOUNDED = 1.0
"""Seconds the peer's session runs alone before backbeat's engine starts. When two Link sessions
meet, the one founded more than half a second (Link's SESSION_EPS, in session time) earlier wins;
two founded closer together are ordered by their random session ids, so a peer enabled just before
the engine joins backbeat's session (and its tempo) as often as not: 8 of 16 trials here without
the wait, 0 of 16 with it. The wait makes the peer's the session that already exists."""


@pytest.fixture
def peer():
    p = link.Link(130.0)
    p.startStopSyncEnabled = True
    p.enabled = True
    time.sleep(FOUNDED)
    yield p
    p.enabled = False


def engine(start_stop: bool = False, bpm: float = 100.0) -> EngineClient:
    return EngineClient(EngineConfig(midi_api="null", tempo=TempoMap.constant(bpm), link=True,
                                     link_start_stop=start_stop, rt_priority=0, nice=0))


def until(e: EngineClient, ok, timeout: float) -> tuple[Telemetry, float]:
    start = time.monotonic()
    while True:
        t = e.wait_telemetry()
        if ok(t):
            return t, time.monotonic() - start
        assert time.monotonic() - start < timeout, t
        time.sleep(0.01)


def started_at(t: Telemetry) -> float:
    """When tick 0 played (or plays), on perf_counter: the anchor moves at every Link sync."""
    return t.anchor_time - t.anchor_tick * 60 / (t.bpm * 480)


def offset(p) -> float:
    """Link seconds minus perf_counter seconds, here."""
    before = time.perf_counter()
    micros = p.clock().micros()
    return micros / 1e6 - (before + time.perf_counter()) / 2


def test_backbeat_adopts_the_peers_tempo_within_one_bar_and_keeps_it(peer):
    with engine() as e:
        until(e, lambda t: t.link.peers >= 1, 10)
        e.set_tempo_map(TempoMap.constant(100))  # what playing a 100 BPM song sends
        asked = time.monotonic()
        e.start(0)
        t, _ = until(e, lambda t: t.state == "playing" and abs(t.bpm - 130) < 0.01, 60 / 130 * BAR)
        assert time.monotonic() - asked <= 60 / 130 * BAR
        assert abs(peer.captureSessionState().tempo() - 130) < 0.01, "the song's own tempo does not override the session"
        assert abs(t.link.bpm - 130) < 0.01 and t.clock == "link"


def test_a_tempo_change_on_either_side_reaches_the_other(peer):
    with engine() as e:
        until(e, lambda t: t.link.peers >= 1, 10)
        e.start(0)
        until(e, lambda t: t.state == "playing", 3)
        s = peer.captureSessionState()
        s.setTempo(140.0, peer.clock().micros())
        peer.commitSessionState(s)
        until(e, lambda t: abs(t.bpm - 140) < 0.01, 0.5)
        t = e.wait_telemetry()
        bar = 1920
        at = (int(t.tick_at(time.perf_counter())) // bar + 1) * bar
        e.set_tempo(at, 90.0)
        end = time.monotonic() + 60 / 140 * BAR + 1.0
        while abs(peer.captureSessionState().tempo() - 90) > 0.01:
            assert time.monotonic() < end, peer.captureSessionState().tempo()
            time.sleep(0.01)


def test_with_start_stop_sync_both_start_and_stop_together(peer):
    with engine(start_stop=True) as e:
        until(e, lambda t: t.link.peers >= 1, 10)
        e.start(0)  # ours reaches the peer...
        t, _ = until(e, lambda t: t.state == "playing", 3)
        end = time.monotonic() + 1
        while not (s := peer.captureSessionState()).isPlaying():  # over the (loopback) network
            assert time.monotonic() < end
            time.sleep(0.005)
        ours = started_at(e.wait_telemetry()) + offset(peer)
        assert abs(s.timeForIsPlaying() / 1e6 - ours) < 0.001
        assert abs(s.phaseAtTime(s.timeForIsPlaying(), BAR)) < 1e-3 or abs(s.phaseAtTime(s.timeForIsPlaying(), BAR) - BAR) < 1e-3
        e.stop()
        end = time.monotonic() + 1
        while peer.captureSessionState().isPlaying():
            assert time.monotonic() < end
            time.sleep(0.01)
        s = peer.captureSessionState()  # ...and the peer's reaches us, on its launch time
        s.setIsPlayingAndRequestBeatAtTime(True, peer.clock().micros(), 0, BAR)
        peer.commitSessionState(s)
        launch = s.timeForIsPlaying() / 1e6
        t, _ = until(e, lambda t: t.state == "playing", 3)
        # The peer's beat 0, its audible start, is the first bar line of the session after its launch
        # time (Link's quantized launch): backbeat's tick 0 plays there.
        ours = started_at(e.wait_telemetry()) + offset(peer)
        first_bar = s.timeAtBeat(-(-s.beatAtTime(round(launch * 1e6), BAR) // BAR) * BAR, BAR) / 1e6
        assert abs(ours - first_bar) < 0.001 and ours >= launch
        assert abs(s.beatAtTime(round(ours * 1e6), BAR)) < 1e-3, "tick 0 plays on the peer's beat 0"
        s = peer.captureSessionState()
        s.setIsPlaying(False, peer.clock().micros())
        peer.commitSessionState(s)
        until(e, lambda t: t.state == "stopped", 1)


def test_bar_downbeats_at_a_jack_receiver_land_on_the_sessions_phase():
    from backbeat.benchmarks import jack
    from backbeat.benchmarks.link import run_inside

    if jack.JACKD is None:
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    r = run_inside(bars=4, bpm=120.0, period=32, peer_bpm=None)
    # Figures: `backbeat bench link`. Margins measured on this 2-core VM under the team's test load:
    # beats p95 0.8-1.4 ms, max <= 1.9 ms (JACK delivers once per 0.67 ms period).
    assert r["beats"]["count"] == 16 and r["downbeats"]["count"] == 4
    assert r["beats"]["p95_ms"] <= 3.0 and r["beats"]["max_ms"] <= 6.0
    assert r["midi_clock"]["count"] >= 15 * 24, "pulses from the first downbeat to the last marker"
