"""What the widgets draw from the daemon's data (pure rendering functions)."""

from __future__ import annotations

import pytest

from backbeat.tui.widgets.log import swap_line
from backbeat.tui.widgets.timeline import LABEL, cell_state, columns, render_arrangement
from backbeat.tui.widgets.transport import transport_text

SECTIONS = [{"name": "intro", "bars": 4, "start_bar": 1}, {"name": "verse", "bars": 8, "start_bar": 5},
            {"name": "chorus", "bars": 4, "start_bar": 13}]


def test_section_blocks_are_proportional_to_bars_and_fill_the_width():
    cols = columns([4, 8, 4], 64)
    assert cols == [(0, 16), (16, 32), (48, 16)]
    assert columns([1, 1, 1], 2) == [(0, 1), (1, 1), (1, 1)]  # never a block of no columns


@pytest.mark.parametrize(("clip", "busy", "known", "state"), [
    (None, False, False, "unknown"),
    (None, True, True, "generating"),
    (None, False, True, "silent"),
    ({"source": "algorithmic"}, False, True, "ready"),
    ({"source": "algorithmic"}, True, True, "draft"),
    ({"source": "fallback"}, True, True, "ready"),
    ({"source": "draft"}, False, True, "draft"),
    ({"source": "llm"}, True, True, "llm"),
    ({"source": "cache"}, False, True, "llm"),
])
def test_cell_states(clip, busy, known, state):
    assert cell_state(clip, busy=busy, known=known) == state


def test_the_arrangement_shows_sections_marker_and_cells():
    tracks = {"drums": [{"section": 0, "source": "algorithmic", "version": 1}, {"section": 1, "source": "llm", "version": 2}]}
    text = render_arrangement(SECTIONS, tracks, current=1, offset=4, busy=False, width=LABEL + 48).plain
    header, marker, drums, bass, *_ = text.splitlines()
    assert header.split() == ["1", "intro", "2", "verse", "3", "chorus"]
    assert marker.index("▲") == LABEL + 12 + 12  # half way through the verse block (columns 12-35)
    assert drums[LABEL:].split() == ["█" * 11, "█" * 23, "·" * 11]
    assert set(bass[LABEL:].strip()) <= {"·", " "}


def test_an_unknown_position_in_the_section_is_marked_as_such():
    text = render_arrangement(SECTIONS, None, current=2, offset=None, busy=False, width=60).plain
    assert "△" in text and "┄" in text


def test_transport_and_swap_lines():
    t = {"state": "playing", "bpm": 124.0, "bar": 17, "beat": 3, "section": "chorus 1"}
    assert "▶ PLAYING" in transport_text(t, "daemon 0.1.0", True).plain
    assert "124 BPM" in transport_text(t, "", True).plain and "bar 17.3" in transport_text(t, "", True).plain
    assert "disconnected" in transport_text(None, "disconnected — retrying", False).plain
    assert swap_line({"kind": "jump", "at_bar": 25, "detail": "chorus 2", "landed": False})[0] == "bar 25  jump chorus 2  pending"
    assert swap_line({"kind": "tempo", "at_bar": 3, "detail": "124 BPM", "landed": True})[0].endswith("landed")
