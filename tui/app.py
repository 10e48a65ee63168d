"""The backbeat TUI app: composes the widgets and routes the client's messages to them. Thin on purpose.

Two modes share the keyboard: the input line (focused at start) takes text; ``esc`` moves focus to
the arrangement, where the performance keys act (space, 1–9, shift+1–9, p, q); ``/``, ``i`` or
``enter`` go back to typing. ``?`` (from the arrangement) or F1 (anywhere) shows the help; the
command palette (ctrl+p) holds backbeat's commands. Quitting only disconnects: the daemon plays on.

What it shows is what the daemon said last: ``status`` on connect, then events — a ``song`` event
carries the whole new song (sections, clips, mutes) whenever it changes, so no view is ever left
showing the song before.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Input

from . import lifeline
from .client import BACKOFF, DaemonLink
from .commands import SLASH, TIMEOUTS, Action, checked, gate_answer, help_rows, parse
from .errors import TuiError
from .messages import Connected, DaemonEvent, Disconnected
from .widgets import Arrangement, EventLog, PipelineView, TransportBar
from .widgets.gate import GateView
from .widgets.help import HelpScreen, help_table

SHIFTED = ("exclamation_mark", "at", "number_sign", "dollar_sign", "percent_sign",
           "circumflex_accent", "ampersand", "asterisk", "left_parenthesis")
"""What shift+1…9 sends on a US layout: terminals report the character, not shift plus a digit."""

DONE_LINES: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "generate": lambda args, r: _composing(args["prompt"], r),
    "play": lambda args, r: f"playing from bar {r.get('bar')} ({r.get('section') or 'start'})",
    "stop": lambda args, r: "stopped (every note ended)",
    "panic": lambda args, r: "panic: every note ended, all notes off sent",
    "learn": lambda args, r: f"learned: {r.get('control')} → {r.get('action')}",
    "say": lambda args, r: _said(args["text"], r),
    "refine": lambda args, r: _said(args["text"], {"kind": "refine", **r}),
    "alternatives": lambda args, r: "  ".join(f"{a['label']}: {a['description']}" for a in r.get("alternatives", [])),
    "choose": lambda args, r: f"{r.get('part')} {r.get('label')} from bar {r.get('at_bar')}",
    "ab": lambda args, r: f"{r.get('part')} {r.get('label')} from bar {r.get('at_bar')}",
    "undo": lambda args, r: "; ".join(r.get("notes", [])) + f" (from bar {r.get('at_bar')})",
    "gate": lambda args, r: f"gate: {args['choice']}" + (f" — {args['text']}" if args.get("text") else ""),
}
"""A confirmation line per command; the others are announced by the daemon's own swap events."""


def _composing(prompt: str, r: dict[str, Any]) -> str:
    return f"composing “{prompt}” (seed {r.get('seed')}); undo brings back the song before"


def _said(text: str, r: dict[str, Any]) -> str:
    """The answer to a routed line: an answer, a question back, what a change or command did, or a new song."""
    kind = r.get("kind")
    if kind == "answer":
        return r.get("answer", "")
    if r.get("question"):
        return f"{r['question']} (nothing changed)"
    if kind == "command":
        return f"{r.get('command')}: {_command_result(r)}"
    if kind == "refine":
        return "; ".join(r.get("notes", [])) + _from_bar(r)
    return _composing(text, r)


def _from_bar(r: dict[str, Any]) -> str:
    return f" (from bar {r['at_bar']})" if r.get("at_bar") else ""


def _command_result(r: dict[str, Any]) -> str:
    """What a command typed in words did, from its own result (its fields beside ``command``)."""
    if r.get("notes"):
        return "; ".join(r["notes"]) + _from_bar(r)
    if r.get("section"):
        return f"{r['section']}" + (f" at bar {r['at_bar']}" if r.get("at_bar") else "")
    if r.get("state"):
        return f"{r['state']} at bar {r.get('bar')}"
    return "done"


KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("space", "toggle_play", "play/stop", "space"),
    ("1", "jump(1, 'section')", "jump to section 1 at the next section", "1…9"),
    ("exclamation_mark,shift+1", "jump(1, 'bar')", "jump to section 1 at the next bar", "⇧1…9"),
    ("p", "panic", "panic: every note off", "p"),
    ("q", "quit", "quit the TUI (the music plays on)", "q"),
    ("question_mark,f1", "help", "help: every key and command", "?/F1"),
    ("escape", "keys", "performance keys (focus the arrangement)", "esc"),
    ("slash", "type('/')", "type a slash command", "/"),
    ("i,enter", "type('')", "back to typing", "i/enter"),
)
"""The keys shown in the footer and the help: (keys, action, what it does, how it is shown)."""


def _bindings() -> list[Binding]:
    keys = [Binding(k, action, what, key_display=shown, show=shown in ("space", "1…9", "⇧1…9", "p", "q", "?/F1", "/"))
            for k, action, what, shown in KEYS]
    for n in range(2, 10):
        keys.append(Binding(str(n), f"jump({n}, 'section')", f"jump to section {n} at the next section", show=False))
        keys.append(Binding(f"{SHIFTED[n - 1]},shift+{n}", f"jump({n}, 'bar')", f"jump to section {n} at the next bar", show=False))
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
        self.gatebox = GateView(id="gate")
        self.routes: dict[str, Callable[[dict[str, Any]], None]] = {
            "transport": self._transport, "pipeline": self._pipeline, "buffer": self.timeline.show_buffer,
            "song": self._song, "gate": self.gatebox.show, "swap": self.logview.swap, "log": self.logview.daemon_log,
        }

    def compose(self) -> ComposeResult:
        yield self.bar
        yield self.timeline
        with Horizontal(id="panes"):
            yield self.stages
            yield self.logview
        yield self.gatebox
        yield Input(placeholder="a prompt to play, or /help — esc for performance keys", id="input")
        yield Footer()

    def on_mount(self) -> None:
        self.stages.border_title, self.logview.border_title = "pipeline", "log"
        self.run_worker(self.link.run(), name="daemon link", group="link")
        if self.is_web:  # a browser tab's process: it ends with its tab or its web server, and on SIGTERM
            lifeline.watch(sys.__stdin__.fileno(), lambda: self.call_from_thread(self.end, "the web server is gone"))
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.end, "SIGTERM")
        self.query_one(Input).focus()
        self.logview.note(f"connecting to the daemon at {self.link.path}")

    # --- the connection -------------------------------------------------------------------------

    def on_connected(self, message: Connected) -> None:
        status = message.status
        self.bar.show_link(f"daemon {message.version} · {self.link.path}", linked=True)
        self.stages.show_status(status["pipeline"])
        self.gatebox.show(status.get("gate"))
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
        self.timeline.show_buffer(status.get("buffer"))
        self.timeline.show_transport(status["transport"])

    def _song(self, data: dict[str, Any]) -> None:
        """Another song, or the same one changed as a whole: everything the view holds, at once."""
        self.timeline.show_session(data.get("session"), self.stages.busy)
        self.timeline.show_buffer(data.get("buffer"))

    def _transport(self, data: dict[str, Any]) -> None:
        self.bar.show_transport(data)
        self.timeline.show_transport(data)

    def _pipeline(self, data: dict[str, Any]) -> None:
        self.stages.show_event(data)
        self.timeline.show_busy(self.stages.busy)
        if data.get("status") == "failed":
            self.logview.error(f"stage {data.get('stage')} failed: {data.get('message')}")

    # --- what the user asks for ------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.clear()
        self.run_line(event.value)

    def run_line(self, line: str) -> None:
        """What typing ``line`` and enter does (an answer, while an approval gate waits)."""
        try:
            action = gate_answer(line) if self.gatebox.waiting and not line.startswith("/") else parse(line)
        except TuiError as e:
            self.logview.error(str(e))
            return
        if action.local:
            self.action_help()
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

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """An approval gate's button: keep, alternative and quit answer at once; edit asks what to change."""
        choice = (event.button.id or "").removeprefix("gate-")
        if choice == "edit":
            self.action_type("e ")
        elif choice:
            self.send(checked("gate", {"choice": choice}, "gate"))

    def end(self, why: str) -> None:
        """Exit now, and surely: the process ends within ``lifeline.GRACE`` s even if exiting stalls."""
        lifeline.deadline()
        self.exit(message=f"backbeat tui: {why}")

    def action_help(self) -> None:
        keys = [(shown, what) for _, _, what, shown in KEYS] + [("ctrl+p", "command palette: backbeat's commands"),
                                                                ("ctrl+q", "quit from anywhere (the music plays on)")]
        self.push_screen(HelpScreen(help_table(keys, help_rows()[:-1], help_rows()[-1])))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """backbeat's own commands first in the palette: one without arguments runs, one with
        arguments is put on the input line to finish."""
        for name, spec in SLASH.items():
            takes = spec.usage != f"/{name}"
            run = (lambda n=name: self.action_type(f"/{n} ")) if takes else (lambda n=name: self.run_line(f"/{n}"))
            yield SystemCommand(f"backbeat {spec.usage}", spec.help, run)
        yield from super().get_system_commands(screen)

    def action_keys(self) -> None:
        self.timeline.focus()

    def action_type(self, prefix: str) -> None:
        line = self.query_one(Input)
        line.focus()
        line.value = prefix
        line.cursor_position = len(prefix)
