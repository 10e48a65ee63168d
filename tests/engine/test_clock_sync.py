import random

import pytest

from backbeat.engine.clock_sync import CLOCK, CONTINUE, START, STOP, ClockFollower, ClockOut, Follow, song_position
from backbeat.engine.scheduler import Scheduler
from backbeat.engine.time import TempoMap


def test_song_position_counts_sixteenths_lsb_first():
    assert song_position(0) == (0xF2, 0, 0)
    assert song_position(120 * 130 + 7) == (0xF2, 130 & 0x7F, 1)


def test_pulses_follow_the_tempo_map_from_the_transport():
    s = Scheduler(tempo=TempoMap.constant(120).set_from(480, 60))
    clock = ClockOut()
    s.start(10.0, 0)
    assert clock.on_transport(s.notices[-1]) == [song_position(0), (START,)]
    pulses = clock.pop_due(s, 11.0)
    # 24 pulses in the first beat (0.5 s at 120), then every 1/24 s at 60 BPM.
    assert len(pulses) == 24 + 13
    assert pulses[1][0] == pytest.approx(10.0 + 0.5 / 24)
    assert pulses[24] == (pytest.approx(10.5), 480)
    assert pulses[-1][0] == pytest.approx(10.5 + 12 / 24)
    assert clock.next_deadline(s) == pytest.approx(10.5 + 13 / 24)


def test_transport_messages_for_start_jump_and_stop():
    s = Scheduler()
    clock = ClockOut()
    s.start(0.0, 960)
    assert clock.on_transport(s.notices[-1]) == [song_position(960), (CONTINUE,)]
    assert clock.next_tick == 960
    s.jump(None, 30, now=0.1)
    s.pop_due(0.1)
    assert clock.on_transport(s.notices[-1]) == [(STOP,), song_position(30), (CONTINUE,)]
    assert clock.next_tick == 40  # the first pulse at or after the jump target
    s.stop(0.2)
    assert clock.on_transport(s.notices[-1]) == [(STOP,)]
    assert clock.pop_due(s, 5.0) == [] and clock.next_deadline(s) is None


def pulses(follower: ClockFollower, t0: float, bpm: float, count: int, jitter: float = 0.0) -> list[Follow]:
    rng = random.Random(1)
    period = 60.0 / bpm / 24
    actions = []
    for k in range(count):
        actions += follower.feed([CLOCK], t0 + k * period + rng.uniform(0, jitter))
    return actions


def test_follower_starts_on_the_first_pulse_after_start_and_locks_tempo_through_jitter():
    f = ClockFollower()
    assert f.feed([START], 5.0) == []
    actions = pulses(f, 5.01, 100.0, 49, jitter=0.0013)  # JACK-period-sized arrival jitter
    assert actions[0].kind == "start" and actions[0].tick == 0 and actions[0].time == pytest.approx(5.01, abs=0.0013)
    syncs = [a for a in actions if a.kind == "sync"]
    assert syncs[-1].tick == 48 * 20
    assert syncs[-1].bpm == pytest.approx(100.0, rel=0.01)
    assert syncs[-1].time == pytest.approx(5.01 + 48 * 0.025, abs=0.001)


def test_follower_stop_spp_and_continue():
    f = ClockFollower()
    f.feed([START], 0.0)
    pulses(f, 0.0, 120.0, 25)
    assert f.feed([STOP], 1.0) == [Follow("stop", 1.0)]
    assert f.position == 24 * 20
    f.feed([0xF2, 16, 0], 1.1)  # song position: 16 sixteenths = bar 2
    f.feed([CONTINUE], 1.2)
    assert f.feed([CLOCK], 1.3) == [Follow("start", 1.3, 16 * 120)]


def test_follower_rebase_keeps_the_loop_in_phase():
    f = ClockFollower()
    f.feed([START], 0.0)
    pulses(f, 0.0, 120.0, 10)
    f.rebase(-180)  # our transport jumped from 180 back to 0
    assert f.tick == 0
