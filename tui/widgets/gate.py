"""The approval gate of a composition started with ``/ask``: what the stage made, and the four
answers (keep, alternative, edit, quit) as buttons; typed answers work too (``y``, ``a``,
``e CHANGE``, ``q``). Hidden while no gate is open."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

ANSWERS = (("keep", "yes", "success"), ("alternative", "alternative", "primary"), ("edit…", "edit", "warning"),
           ("quit", "quit", "error"))
"""(label, the protocol's choice, button variant)."""


class GateView(Vertical):
    """The open gate, from ``gate`` events and ``status.gate``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiting: dict[str, Any] | None = None
        """The open gate as the daemon described it; None: no gate is open."""

    def compose(self) -> ComposeResult:
        yield Static(id="gate-text")
        with Horizontal(id="gate-answers"):
            for label, choice, variant in ANSWERS:
                yield Button(label, id=f"gate-{choice}", variant=variant, compact=True)

    def show(self, gate: dict[str, Any] | None) -> None:
        self.waiting = gate if gate and gate.get("open") else None
        self.set_class(self.waiting is not None, "open")
        if self.waiting is None:
            return
        self.border_title = f"approve the {self.waiting['stage']} stage"
        text = Text(self.waiting.get("summary", ""))
        if self.waiting.get("problem"):
            text.append(f"\n{self.waiting['problem']}", style="bold red")
        text.append("\nkeep (y) · another (a) · edit (e CHANGE, e.g. e key D minor) · quit (q)", style="italic")
        self.query_one("#gate-text", Static).update(text)
