"""The transport bar: play state, tempo, bar.beat and section, as the daemon last reported them,
and the state of the connection (``disconnected — retrying`` when no daemon answers)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

STATE_LOOK = {"playing": ("▶ PLAYING", "bold green"), "stopped": ("■ STOPPED", "bold yellow")}


def transport_text(transport: dict[str, Any] | None, link: str, linked: bool) -> Text:
    """One line: ``▶ PLAYING  124 BPM  bar 17.3  chorus 1   daemon 0.1.0``."""
    text = Text()
    if transport is not None:
        label, style = STATE_LOOK.get(transport.get("state", ""), (str(transport.get("state")), "bold"))
        text.append(f" {label} ", style=style)
        text.append(f" {transport.get('bpm', 0):g} BPM ", style="bold")
        text.append(f" bar {transport.get('bar', 1)}.{transport.get('beat', 1)} ")
        text.append(f" {transport.get('section') or '—'} ", style="bold magenta")
    text.append(f"  {link}", style="dim" if linked else "bold red")
    return text


class TransportBar(Static):
    """Renders the last ``transport`` (from ``status`` or an event) and the connection line."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.transport: dict[str, Any] | None = None
        """The daemon's last word on the transport; None before the first ``status``."""
        self.link = "connecting to the daemon…"
        self.linked = False

    @property
    def state(self) -> str | None:
        return self.transport.get("state") if self.transport else None

    def show_transport(self, transport: dict[str, Any] | None) -> None:
        """The daemon's transport, or None while no daemon is attached (its state is unknown then)."""
        self.transport = transport
        self._render_bar()

    def show_link(self, line: str, linked: bool) -> None:
        self.link, self.linked = line, linked
        self._render_bar()

    def on_mount(self) -> None:
        self._render_bar()

    def _render_bar(self) -> None:
        self.update(transport_text(self.transport, self.link, self.linked))
