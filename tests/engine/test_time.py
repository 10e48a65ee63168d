import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbeat.engine.time import PPQ, Meter, TempoMap, ms_per_note


def test_constant_tempo_converts_both_ways():
    tm = TempoMap.constant(120)
    assert tm.seconds_at(PPQ) == pytest.approx(0.5)
    assert tm.tick_at(0.5) == pytest.approx(PPQ)


def test_tempo_change_is_piecewise():
    tm = TempoMap.constant(120).set_from(4 * PPQ, 60)
    assert tm.seconds_at(4 * PPQ) == pytest.approx(2.0)
    assert tm.seconds_at(5 * PPQ) == pytest.approx(3.0)
    assert tm.bpm_at(4 * PPQ - 1) == 120 and tm.bpm_at(4 * PPQ) == 60


def test_set_from_drops_later_changes():
    tm = TempoMap.constant(100).set_from(960, 90).set_from(480, 140)
    assert [c.tick for c in tm.changes] == [0, 480]


@given(st.lists(st.tuples(st.integers(1, 10_000), st.floats(30, 300)), max_size=5), st.integers(0, 200_000))
def test_tick_seconds_round_trip(changes, tick):
    tm = TempoMap.constant(120)
    for t, bpm in sorted(changes):
        tm = tm.set_from(t, bpm)
    assert tm.tick_at(tm.seconds_at(tick)) == pytest.approx(tick, abs=1e-6)


def test_meter_positions():
    m = Meter(3, 4)
    assert m.ticks_per_bar == 3 * PPQ
    assert m.position(m.bar_start(5) + PPQ + 7) == (5, 1, 7)
    assert Meter(6, 8).ticks_per_beat == PPQ // 2
    with pytest.raises(ValueError):
        Meter(4, 3)


def test_ms_per_note():
    assert ms_per_note(120, 1 / 8) == pytest.approx(250.0)
    assert ms_per_note(120, 3 / 16) == pytest.approx(375.0)
