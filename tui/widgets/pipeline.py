"""Pipeline stages with their status and timings, from ``pipeline`` events (and ``status`` on attach).

A stage 1 ``start`` begins a new job and clears the list; ``status`` only says whether a job runs
and its current stage, so after a reconnect the list holds just that until new events arrive.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

MARK = {"start": ("…", "yellow"), "done": ("✓", "green"), "retry": ("↻", "yellow"), "failed": ("✗", "bold red")}


def render_stages(stages: dict[int, dict[str, Any]], note: str) -> Table | Text:
    if not stages:
        return Text(note, style="grey50")
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(width=1, no_wrap=True)
    table.add_column(width=1, no_wrap=True)
    table.add_column(min_width=11, no_wrap=True)
    table.add_column(width=9, justify="right", no_wrap=True)
    table.add_column(ratio=1, overflow="ellipsis", no_wrap=True)
    for index in sorted(stages):
        s = stages[index]
        char, style = MARK.get(s.get("status", ""), ("?", "grey50"))
        took = f"{s.get('duration_ms', 0):.1f} ms" if s.get("status") != "start" else ""
        table.add_row(Text(char, style=style), str(index), s.get("stage", "?"), took, s.get("message", ""))
    return table


class PipelineView(Static):
    """One row per stage of the current (or last) pipeline job."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stages: dict[int, dict[str, Any]] = {}
        self.note = "no pipeline has run since this TUI attached"

    @property
    def busy(self) -> bool:
        """A stage is in progress (its last event is ``start`` or ``retry``)."""
        return any(s.get("status") in ("start", "retry") for s in self.stages.values())

    def show_status(self, pipeline: dict[str, Any]) -> None:
        """From ``status.pipeline`` ({running, stage}) on attach."""
        self.stages = {}
        if pipeline.get("running"):
            self.stages[0] = {"stage": pipeline.get("stage") or "…", "status": "start", "message": "running"}
        self._show()

    def show_event(self, event: dict[str, Any]) -> None:
        index = int(event.get("index", 0))
        if index == 1 and event.get("status") == "start":
            self.stages = {}
        self.stages.pop(0, None)
        self.stages[index] = event
        self._show()

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        self.update(render_stages(self.stages, self.note))
