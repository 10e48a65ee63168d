import io

import pytest

from backbeat.engine.monitor import MonitorOutput, note_name
from backbeat.engine.stats import LatencyHistogram
from backbeat.engine.time import Meter


def test_percentiles_are_bin_upper_edges_and_max_is_exact():
    h = LatencyHistogram()
    for i in range(100):
        h.add(i * 1e-5 + 5e-6)  # 0.005 ms .. 0.995 ms
    assert h.count == 100
    assert h.percentile(0.5) == pytest.approx(0.0005)
    assert h.percentile(0.99) == pytest.approx(0.00099)
    assert h.max == pytest.approx(0.000995)


def test_coarse_bins_overflow_and_early_sends():
    h = LatencyHistogram()
    h.add(0.0125)
    h.add(5.0)
    h.add(-0.00002)
    assert h.early_count == 1 and h.early_max == pytest.approx(2e-5)
    assert h.percentile(0.5) == pytest.approx(0.013)
    assert h.percentile(1.0) == 5.0
    assert len(h.bins) == 1991  # bounded, whatever was added
    h.reset()
    assert h.count == 0 and h.percentile(0.99) == 0.0


def test_monitor_prints_note_ons_and_transport_with_positions():
    out = io.StringIO()
    m = MonitorOutput(Meter(4, 4), out)
    m.transport("start", 0)
    m.send((0x93, 60, 100), 1920 + 480 + 5, "lead")
    m.send((0x83, 60, 0), 2000, "lead")
    assert out.getvalue() == ""  # buffered until the loop turn ends
    m.flush()
    assert out.getvalue().splitlines() == ["   1.1.000  -- start", "   2.2.005  lead       ch4  C4   vel 100"]
    assert note_name(61) == "C#4" and note_name(21) == "A0"
