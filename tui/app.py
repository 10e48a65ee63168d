"""The backbeat TUI app: composes the widgets and routes the client's messages to them. Thin on purpose.

Two modes share the keyboard: the input line (focused at start) takes text; ``esc`` moves focus to
the arrangement, where the performance keys act (space, 1–9, shift+1–9, p, q); ``/``, ``i`` or
``enter`` go back to typing. Quitting only disconnects: the daemon plays on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Input

from .client import BACKOFF, DaemonLink
from .commands import TIMEOUTS, Action, checked, help_lines, parse
from .errors import TuiError
from .messages import Connected, DaemonEvent, Disconnected
from .widgets import Arrangement, EventLog, PipelineView, TransportBar

SHIFTED = ("exclamation_mark", "at", "number_sign", "dollar_sign", "percent_sign",
           "circumflex_accent", "ampersand", "asterisk", "left_parenthesis")
"""What shift+1…9 sends on a US layout: terminals report the character, not shift plus a digit."""

DONE_LINES: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "generate": lambda args, r: f"composing “{args['prompt']}” (seed {r.get('seed')})",
    "play": lambda args, r: f"playing from bar {r.get('bar')} ({r.get('section') or 'start'})",
    "stop": lambda args, r: "stopped (every note ended)",
    "panic": lambda args, r: "panic: every note ended, all notes off sent",
    "learn": lambda args, r: f"learned: {r.get('control')} → {r.get('action')}",
    "say": lambda args, r: _said(r),
    "refine": lambda args, r: _said({"kind": "refine", **r}),
    "alternatives": lambda args, r: "  ".join(f"{a['label']}: {a['description']}" for a in r.get("alternatives", [])),
    "choose": lambda args, r: f"{r.get('part')} {r.get('label')} from bar {r.get('at_bar')}",
    "ab": lambda args, r: f"{r.get('part')} {r.get('label')} from bar {r.get('at_bar')}",
    "undo": lambda args, r: "; ".join(r.get("notes", [])) + f" (from bar {r.get('at_bar')})",
}
"""A confirmation line per command; the others are announced by the daemon's own swap events."""


def _said(r: dict[str, Any]) -> str:
    """The answer to a routed line: an answer, a question back, what a change did, or a new song."""
    if r.get("kind") == "answer":
        return r.get("answer", "")
    if r.get("question"):
        return f"? {r['question']} (nothing changed)"
    if r.get("kind") == "refine":
        return "; ".join(r.get("notes", [])) + (f" (from bar {r['at_bar']})" if r.get("at_bar") else "")
    return f"composing (seed {r.get('seed')})"


def _bindings() -> list[Binding]:
    keys = [
        Binding("space", "toggle_play", "play/stop"),
        Binding("1", "jump(1, 'section')", "jump", key_display="1…9"),
        Binding("exclamation_mark,shift+1", "jump(1, 'bar')", "jump next bar", key_display="⇧1…9"),
        Binding("p", "panic", "panic"),
        Binding("q", "quit", "quit (music plays on)"),
        Binding("escape", "keys", "keys", show=False),
        Binding("slash", "type('/')", "command", key_display="/"),
        Binding("i,enter", "type('')", "type", show=False),
    ]
    for n in range(2, 10):
        keys.append(Binding(str(n), f"jump({n}, 'section')", show=False))
        keys.append(Binding(f"{SHIFTED[n - 1]},shift+{n}", f"jump({n}, 'bar')", show=False))
    return keys


class BackbeatApp(App[None]):
    """A client of one daemon; any number may run at once."""

    CSS_PATH = "app.tcss"
    TITLE = "backbeat"
    BINDINGS = _bindings()

    def __init__(self, socket: Path | None = None, *, backoff: tuple[float, ...] = BACKOFF) -> None:
        super().__init__()
        self.link = DaemonLink(self.post_message, socket, backoff=backoff)
        self.bar, self.timeline = TransportBar(id="transport"), Arrangement(id="arrangement")
        self.stages, self.logview = PipelineView(id="pipeline"), EventLog(id="log")
        self._stale = self._fetching = False
        self.routes: dict[str, Callable[[dict[str, Any]], None]] = {
            "transport": self._transport, "pipeline": self._pipeline, "buffer": self._buffer,
            "swap": self.logview.swap, "log": self.logview.daemon_log,
        }

    def compose(self) -> ComposeResult:
        yield self.bar
        yield self.timeline
        with Horizontal(id="panes"):
            yield self.stages
            yield self.logview
        yield Input(placeholder="a prompt to play, or /help — esc for performance keys", id="input")
        yield Footer()

    def on_mount(self) -> None:
        self.stages.border_title, self.logview.border_title = "pipeline", "log"
        self.run_worker(self.link.run(), name="daemon link", group="link")
        self.query_one(Input).focus()
        self.logview.note(f"connecting to the daemon at {self.link.path}")

    # --- the connection -------------------------------------------------------------------------

    def on_connected(self, message: Connected) -> None:
        status = message.status
        self.bar.show_link(f"daemon {message.version} · {self.link.path}", linked=True)
        self.stages.show_status(status["pipeline"])
        self.timeline.forget_clips()
        self._show_status(status)
        self.logview.note(f"connected to the daemon {message.version}")
        for change in status.get("pending", []):
            self.logview.swap({**change, "landed": False})

    def on_disconnected(self, message: Disconnected) -> None:
        self.bar.show_transport(None)
        self.timeline.show_transport(None)
        self.bar.show_link(f"disconnected — retrying in {message.retry_in:g} s ({message.reason})", linked=False)
        if message.first:
            self.logview.line(f"disconnected — retrying: {message.reason}", "yellow")

    def on_daemon_event(self, message: DaemonEvent) -> None:
        route = self.routes.get(message.name)
        if route is not None:
            route(message.data)

    def _show_status(self, status: dict[str, Any]) -> None:
        self.bar.show_transport(status["transport"])
        self.timeline.show_session(status["session"], self.stages.busy)
        self.timeline.show_transport(status["transport"])

    def _transport(self, data: dict[str, Any]) -> None:
        self.bar.show_transport(data)
        self.timeline.show_transport(data)
        names = [s["name"] for s in (self.timeline.session or {}).get("sections", [])]
        if data.get("section") is not None and data["section"] not in names:
            self._refresh_status()  # another song was loaded: events do not carry its arrangement

    def _pipeline(self, data: dict[str, Any]) -> None:
        self.stages.show_event(data)
        self.timeline.show_busy(self.stages.busy)
        if data.get("status") == "failed":
            self.logview.error(f"stage {data.get('stage')} failed: {data.get('message')}")

    def _buffer(self, data: dict[str, Any]) -> None:
        self.timeline.show_buffer(data)
        self._refresh_status()  # clips landed: possibly of a new song, whose sections only status gives

    def _refresh_status(self) -> None:
        """Ask for ``status`` once more; asks made while one is in flight are folded into one more."""
        self._stale = True
        if not self._fetching:
            self._fetching = True
            self.run_worker(self._fetch_status(), group="status")

    async def _fetch_status(self) -> None:
        try:
            while self._stale:
                self._stale = False
                self._show_status(await self.link.request("status"))
        except TuiError:
            pass  # disconnected: Connected brings a fresh status
        finally:
            self._fetching = False

    # --- what the user asks for ------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.clear()
        try:
            action = parse(event.value, has_session=self.timeline.session is not None)
        except TuiError as e:
            self.logview.error(str(e))
            return
        if action.local:
            for line in help_lines():
                self.logview.note(line)
            return
        self.send(action)

    def send(self, action: Action) -> None:
        self.run_worker(self._request(action), group="requests")

    async def _request(self, action: Action) -> None:
        try:
            result = await self.link.request(action.cmd, action.args, timeout=TIMEOUTS.get(action.cmd))
        except TuiError as e:
            self.logview.error(f"{action.cmd}: {e}")
            return
        done = DONE_LINES.get(action.cmd)
        if done is not None:
            self.logview.note(done(action.args, result))

    def action_toggle_play(self) -> None:
        self.send(Action("stop" if self.bar.state == "playing" else "play"))

    def action_jump(self, number: int, quantize: str) -> None:
        try:
            self.send(checked("jump", {"section": number - 1, "quantize": quantize}, f"key {number}"))
        except TuiError as e:
            self.logview.error(str(e))

    def action_panic(self) -> None:
        self.send(Action("panic"))

    def action_keys(self) -> None:
        self.timeline.focus()

    def action_type(self, prefix: str) -> None:
        line = self.query_one(Input)
        line.focus()
        line.value = prefix
        line.cursor_position = len(prefix)
