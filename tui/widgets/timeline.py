"""The arrangement as a timeline: sections as blocks proportional to their bars, the play position,
and per track × section a cell saying what the daemon has there (from ``buffer`` events).

Cell states, from a clip's provenance (its ``source``):

    ready       an algorithmic (or fallback) clip, final
    draft       a draft clip — or an algorithmic one while a pipeline stage still runs, since a
                slower stage (an LLM) may still replace it
    llm         written (or cached) by the language model
    generating  no clip yet while the pipeline runs
    silent      no clip, and none coming: the part rests in that section
    unknown     not reported yet (the daemon has no song, or this TUI has not heard from it)

A part's name is marked M while it is muted (or will be from the next bar) and S while it is the
only part that plays.
"""

from __future__ import annotations

from typing import Any, get_args

from rich.text import Text
from textual.widget import Widget

from backbeat.daemon.protocol import Part

PARTS: tuple[str, ...] = get_args(Part)
LABEL = 8
"""Columns of the track-name column."""

LOOK: dict[str, tuple[str, str]] = {
    "ready": ("█", "green"),
    "draft": ("▒", "yellow"),
    "llm": ("█", "cyan"),
    "generating": ("░", "yellow"),
    "silent": ("·", "grey50"),
    "unknown": ("┄", "grey50"),
}
"""Each cell state's fill character and style; also the legend, in this order."""
SOURCE_STATE = {"algorithmic": "ready", "fallback": "ready", "draft": "draft", "llm": "llm", "cache": "llm"}


def cell_state(clip: dict[str, Any] | None, *, busy: bool, known: bool) -> str:
    """The state of one track × section cell (see the module docstring)."""
    if not known:
        return "unknown"
    if clip is None:
        return "generating" if busy else "silent"
    state = SOURCE_STATE.get(str(clip.get("source")), "ready")
    return "draft" if busy and clip.get("source") == "algorithmic" else state


def columns(bars: list[int], width: int) -> list[tuple[int, int]]:
    """(start, width) of each section's block in ``width`` columns, proportional to its bars."""
    total = sum(bars) or 1
    starts, acc = [], 0
    for b in bars:
        starts.append(round(acc * width / total))
        acc += b
    ends = starts[1:] + [width]
    return [(s, max(e - s, 1)) for s, e in zip(starts, ends)]


def track_mark(part: str, muted: list[str]) -> tuple[str, str]:
    """The mute/solo mark of a part's row: (``M`` muted | ``S`` the only part playing | blank, style)."""
    if part in muted:
        return "M", "bold red"
    if muted and all(p in muted for p in PARTS if p != part):
        return "S", "bold yellow"
    return " ", ""


def render_arrangement(sections: list[dict[str, Any]], tracks: dict[str, list[dict[str, Any]]] | None,
                       *, current: int | None, offset: float | None, busy: bool, width: int,
                       muted: list[str] | None = None) -> Text:
    """The whole view as text: section header, play marker, one row per track, legend.

    Args:
        sections: ``status.session.sections`` (name, bars, start_bar).
        tracks: the last ``buffer`` event's ``tracks``; None when none was seen.
        current: the playing section's index, if any.
        offset: bars into the current section (None: the position inside it is not known).
        muted: the parts muted (``buffer.muted``).
    """
    cols = columns([s["bars"] for s in sections], max(width - LABEL, len(sections)))
    header, marker = Text(" " * LABEL), Text(" " * LABEL)
    for i, (s, (_, w)) in enumerate(zip(sections, cols)):
        label = f"{i + 1} {s['name']}"[: max(w - 1, 1)].ljust(w)
        header.append(label, style="reverse bold" if i == current else "bold")
    if current is not None and 0 <= current < len(sections):
        start, w = cols[current]
        bars = sections[current]["bars"] or 1
        col = start + int(min(offset or 0, bars - 1) * w / bars)
        marker.append(" " * col + ("▲" if offset is not None else "△"), style="bold magenta")
    lines = [header, marker]
    for part in PARTS:
        mark, mark_style = track_mark(part, muted or [])
        row = Text(part.ljust(LABEL - 2), style="dim" if mark == "M" else "bold")
        row.append(mark, style=mark_style).append(" ")
        by_section = {c.get("section"): c for c in (tracks or {}).get(part, [])}
        for i, (_, w) in enumerate(cols):
            char, style = LOOK[cell_state(by_section.get(i), busy=busy, known=tracks is not None)]
            row.append(char * max(w - 1, 1) + " " * (w > 1), style=style)
        lines.append(row)
    legend = Text(" " * LABEL)
    for state, (char, style) in LOOK.items():
        legend.append(f"{char} {state}  ", style=style)
    lines.append(legend)
    return Text("\n").join(lines)


class Arrangement(Widget, can_focus=True):
    """The timeline of the loaded song; focused, it is where the performance keys act."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session: dict[str, Any] | None = None
        """``status.session`` as last reported; None when the daemon has no song."""
        self.tracks: dict[str, list[dict[str, Any]]] | None = None
        """The clips per part as the daemon last reported them; None: not reported."""
        self.muted: list[str] = []
        self.busy = False
        self.transport: dict[str, Any] | None = None
        self._entered: tuple[int, int] | None = None
        """(section index, performance bar) where the playing section was seen to begin."""

    def show_session(self, session: dict[str, Any] | None, busy: bool) -> None:
        self.session, self.busy = session, busy
        self.border_title = f"{session['prompt']} · {session['key']}" if session else "arrangement"
        self.refresh()

    def show_buffer(self, buffer: dict[str, Any] | None) -> None:
        """``status.buffer``, a ``buffer`` event or a ``song`` event's (None: no song)."""
        self.tracks = None if buffer is None else buffer.get("tracks") or {}
        self.muted = [] if buffer is None else list(buffer.get("muted") or [])
        self.refresh()

    def show_busy(self, busy: bool) -> None:
        self.busy = busy
        self.refresh()

    def show_transport(self, transport: dict[str, Any] | None) -> None:
        before = self.transport
        self.transport = transport
        if transport is None or transport.get("state") != "playing":
            self._entered = None
        elif before is not None and (before.get("section_index") != transport.get("section_index") or before.get("state") != "playing"):
            self._entered = (transport["section_index"], transport["bar"])
        self.refresh()

    def _offset(self) -> float | None:
        """Bars into the playing section: exact when the daemon reports ``song_bar``, else counted
        from the bar where this view saw the section begin (unknown when it attached mid-section)."""
        t = self.transport or {}
        if t.get("state") != "playing":
            return 0
        sections = (self.session or {}).get("sections") or []
        index = t.get("section_index")
        if "song_bar" in t and index is not None and index < len(sections):
            return t["song_bar"] - sections[index]["start_bar"]
        if self._entered and self._entered[0] == index:
            return t.get("bar", 1) - self._entered[1]
        return None

    def render(self) -> Text:
        if not self.session or not self.session.get("sections"):
            return Text("no song loaded — type a prompt below and press enter", style="grey50")
        t = self.transport or {}
        return render_arrangement(self.session["sections"], self.tracks, current=t.get("section_index"),
                                  offset=self._offset(), busy=self.busy, width=self.size.width, muted=self.muted)
