"""Controller input: a MIDI controller's pads and knobs drive the daemon, and learn mode rebinds them.

    rtmidi's input thread (ALSA, CoreMIDI, WinMM) or our reader thread (JACK, see READERS)
      ──Controller.from_rtmidi──TrioToken.run_sync_soon──▶ channel (QUEUE) ──▶ _act_loop ──▶ Commands / Player
    _poll_loop       the named input port vanishing and returning (every POLL_S)

The input port is opened with python-rtmidi in the daemon process, on the engine's MIDI API (the
same settings and ``--midi-api``); an engine without MIDI (``monitor``, ``null``, ``record``) leaves
the controller to the first usable API. With no usable API at all, or a map that does not load, the
daemon logs one warning and runs without controller input.

Actions become protocol requests (``protocol.parse_request`` then ``Commands.dispatch``), so a pad
gets exactly the validation and behaviour a socket client gets (``ab`` switches to the part's next
alternative, which the daemon makes in the background after each song). The tempo nudge validates
with ``TempoArgs`` and calls ``Supervisor.set_tempo`` itself because the ``tempo`` handler logs a
line of its own and an action logs exactly one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import rtmidi
import trio

from backbeat.engine.errors import NoMidiApiError, PortError, VirtualPortUnsupportedError
from backbeat.engine.ports import APIS, DISPLAY, NamedPort, choose_api, quiet_stderr
from backbeat.generators.errors import GeneratorError
from backbeat.generators.model import SongState

from .bus import Bus
from .commands import Commands
from .controls import (
    ACTIONS, Action, Binding, Bindings, Control, ControllerMap, ControllerMapError, decode, load_map,
    parse_action, save_user_map, with_binding,
)
from .protocol import ProtocolError, TempoArgs, parse_request, request

log = logging.getLogger(__name__)

QUEUE = 64
"""Controller messages waiting for the action task; beyond it they are dropped (and counted)."""
POLL_S = 1.0
"""Seconds between checks that a named input port still exists (rtmidi gives no event)."""
LEARN_TIMEOUT_S = 30.0
"""Seconds a ``learn`` request waits for a control."""
VIRTUAL_PORT = "control"
FAR = 2**62
"""A tick beyond every change: the state a part or the tempo ends up in once pending changes land."""
NO_MIDI = {"monitor", "null", "record"}
"""Engine 'APIs' that are not MIDI systems: the controller then takes the first usable one."""

READERS: dict[str, Literal["callback", "thread"]] = {"jack": "thread"}
"""How messages leave rtmidi, per API (default ``callback``: rtmidi's input thread calls us). JACK
calls rtmidi's callback on its real-time process thread, and a Python callback must take the GIL
there: whenever another thread holds it (a part being generated) that JACK cycle runs late, and a
late JACK client reads corrupt buffers — measured on the dummy driver, two CCs sent together arrived
as the first one twice in 200 of 200 trials with a busy thread, 0 of 200 without. So under JACK
rtmidi queues messages itself (C++ only, no GIL) and a reader thread of ours drains that queue."""
DRAIN_IDLE_S = 0.05
"""Seconds between the reader thread's looks at rtmidi's queue while the controller is untouched
(~0.2% of a core; a trio task waking as often costs three times that)..."""
DRAIN_ACTIVE_S = 0.005
"""...and while it is in use: for ACTIVE_S after any message."""
ACTIVE_S = 2.0
CALLBACK_GRACE_S = 0.05
"""After cancelling rtmidi's callback, time for one already on its way to finish: rtmidi's closePort
joins its input thread while python-rtmidi holds the GIL, so a callback still waiting for the GIL then
would deadlock the close."""


# --- the port -------------------------------------------------------------------------------------


class ControlInput(NamedPort):
    """The controller's input: our own virtual port, or an existing port found by name substring
    (found, lost and found again as the engine's named ports are).

    ``open``, ``poll`` and ``close`` block (rtmidi calls): the controller runs them in worker threads.
    """

    kind = "input"

    def __init__(self, api: str, client: str, pattern: str, on_message: Callable[[list[int]], None]) -> None:
        super().__init__(api, client, pattern, VIRTUAL_PORT)
        self.name = f"{client}:{VIRTUAL_PORT}" if not pattern else pattern
        self.reader = READERS.get(api, "callback")
        self._on_message = on_message
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def virtual(self) -> bool:
        return not self.pattern

    def open(self) -> None:
        """Create the client and the virtual port, or connect to a matching port (a named port that
        does not exist yet leaves the input down until ``poll`` finds it).

        Raises:
            PortError: no client can be created, or no virtual port on this API.
        """
        if self.virtual and self.api == "winmm":
            raise VirtualPortUnsupportedError(
                "Windows cannot create virtual MIDI ports: set `port` in the controller map to part of your controller's port name"
            )
        try:
            with quiet_stderr():
                self._midi = rtmidi.MidiIn(APIS[self.api], name=self.client)
            self._midi.ignore_types(sysex=True, timing=True, active_sense=True)
            if self.reader == "callback":
                self._midi.set_callback(lambda event, _data: self._on_message(event[0]))
            if self.virtual:
                self._midi.open_virtual_port(VIRTUAL_PORT)
                self.up = True
            else:
                self._connect()
        except (rtmidi.RtMidiError, NotImplementedError) as e:
            self.close()
            raise PortError(f"cannot open the controller input on {DISPLAY[self.api]}: {e}") from None
        if self.reader == "thread":
            self._thread = threading.Thread(target=self._read, name="backbeat-controller", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        """The reader thread: rtmidi's queue, drained often while the controller is in use."""
        active_until = 0.0
        while not self._stop.wait(DRAIN_ACTIVE_S if time.monotonic() < active_until else DRAIN_IDLE_S):
            while (got := self._midi.get_message()) is not None:  # type: ignore[union-attr]
                self._on_message(got[0])
                active_until = time.monotonic() + ACTIVE_S

    def poll(self) -> Literal["down", "up"] | None:
        """Whether a named port vanished or came back since the last poll (our own port cannot)."""
        return None if self.virtual else super().poll()  # type: ignore[return-value]

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self._midi is not None:
            if self.reader == "callback":
                self._midi.cancel_callback()
                time.sleep(CALLBACK_GRACE_S)
            self._midi.close_port()
            self._midi.delete()
            self._midi = None
        self.up = False


def controller_api(engine_api: str) -> str:
    """The MIDI API for controller input: the engine's, or the first usable one when the engine has none.

    Raises:
        NoMidiApiError: none is usable (the message says why and how to fix it).
    """
    return choose_api("auto" if engine_api in NO_MIDI else engine_api)


# --- learn ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Learning:
    """A ``learn`` request waiting for a control."""

    action: Action
    done: trio.Event = field(default_factory=trio.Event)
    result: dict[str, Any] | None = None
    error: ProtocolError | None = None

    def finish(self, result: dict[str, Any] | None = None, error: ProtocolError | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


# --- the controller -----------------------------------------------------------------------------------


class Controller:
    """One controller map, its input port and learn mode, acting on the daemon through ``commands``.

    Made in the trio thread (it keeps that run's token for rtmidi's callbacks).
    """

    def __init__(self, map_name: str, cmap: ControllerMap, commands: Commands, bus: Bus) -> None:
        self.map_name = map_name
        self.map = cmap
        self.bindings = Bindings(cmap)
        self.commands = commands
        self.player = commands.player
        self.bus = bus
        self.port: ControlInput | None = None
        self.dropped = 0
        self._last_cc: dict[tuple[int, int], int] = {}
        self._learning: Learning | None = None
        self._token = trio.lowlevel.current_trio_token()
        self._send, self._receive = trio.open_memory_channel[Control](QUEUE)

    async def run(self, api: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.port = ControlInput(api, f"{self.player.config.client_name} control", self.map.port, self.from_rtmidi)
        try:
            await trio.to_thread.run_sync(self.port.open)
        except PortError as e:
            _off(self.bus, str(e))
            task_status.started()
            return
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._act_loop)
                nursery.start_soon(self._poll_loop)
                self.commands.controller = self
                task_status.started()
                self.bus.log("info", self._listening(api))
        finally:
            self.commands.controller = None
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.port.close)

    def _listening(self, api: str) -> str:
        where = f"{self.port.name} ({DISPLAY[api]})"
        if self.port.virtual:
            return f"controller map {self.map.name!r}: listening on {where}; connect your controller to it"
        if self.port.up:
            return f"controller map {self.map.name!r}: listening to {where}"
        return f"controller map {self.map.name!r}: no {DISPLAY[api]} input port matches {self.map.port!r} yet; waiting for it"

    # --- from rtmidi to trio -------------------------------------------------------------------------

    def from_rtmidi(self, message: list[int]) -> None:
        """On rtmidi's input thread (or our JACK reader thread): decode, hand over, return.

        ``run_sync_soon`` queues ``_deliver`` for the trio thread without waiting for it, so this
        thread never blocks on the trio loop, and closing the port from trio cannot deadlock with a
        callback that waits for trio. No trio object is touched here.
        """
        control = decode(message)
        if control is None:
            return
        try:
            self._token.run_sync_soon(self._deliver, control)
        except trio.RunFinishedError:
            pass  # the daemon has ended; the port is being closed

    def _deliver(self, control: Control) -> None:
        """In the trio thread (also as a system callback, so it must not raise)."""
        try:
            self._send.send_nowait(control)
        except trio.WouldBlock:
            self.dropped += 1
        except trio.ClosedResourceError:
            pass

    # --- tasks ---------------------------------------------------------------------------------------

    async def _act_loop(self) -> None:
        async for control in self._receive:
            if self.dropped:
                self.bus.log("warning", f"controller: {self.dropped} messages came faster than they could be acted on and were dropped")
                self.dropped = 0
            learning, self._learning = self._learning, None
            if learning is not None and not learning.done.is_set():
                await self._learn_from(control, learning)
                continue
            previous = self._last_cc.get((control.channel, control.number)) if control.kind == "cc" else None
            if control.kind == "cc":
                self._last_cc[(control.channel, control.number)] = control.value
            for binding in self.bindings.match(control, previous):
                await self._act(control, parse_action(binding.action))

    async def _act(self, control: Control, action: Action) -> None:
        try:
            done = await PERFORM[action.verb](self, action)
        except ProtocolError as e:
            self.bus.log("warning", f"{control.label} → {action.text}: {e.message}")
        except Exception as e:  # a bug in an action must not end controller input, let alone the daemon
            log.exception("controller action %s failed", action.text)
            self.bus.log("error", f"{control.label} → {action.text} failed: {e}")
        else:
            self.bus.log("info", f"{control.label} → {done}")

    async def _poll_loop(self) -> None:
        if self.port is None or self.port.virtual:
            return  # our own port cannot vanish
        deadline = trio.current_time()
        while True:
            deadline += POLL_S
            await trio.sleep_until(deadline)
            change = await trio.to_thread.run_sync(self.port.poll)
            if change == "down":
                self.bus.log("warning", f"controller port {self.port.name} vanished; backbeat reconnects when it returns")
            elif change == "up":
                self.bus.log("info", f"controller port {self.port.name} is back")

    # --- learn -------------------------------------------------------------------------------------

    async def learn(self, text: str) -> dict[str, Any]:
        """Wait for the next note-on or CC and bind it to ``text``; saved to the user's copy of the map.

        Raises:
            ProtocolError: ``bad_args`` (not an action), ``failed`` (timeout, or the map could not be saved),
                ``conflict`` (a newer learn request replaced this one).
        """
        try:
            action = parse_action(text)
        except ControllerMapError as e:
            raise ProtocolError("bad_args", f"learn: {e}") from None
        if self._learning is not None:
            self._learning.finish(error=ProtocolError("conflict", "a newer learn request replaced this one"))
        learning = self._learning = Learning(action)
        self.bus.log("info", f"learn: touch the pad, key or knob for {action.text} (within {LEARN_TIMEOUT_S:g} s)")
        with trio.move_on_after(LEARN_TIMEOUT_S):
            await learning.done.wait()
        if self._learning is learning:
            self._learning = None
        if learning.error is not None:
            raise learning.error
        if learning.result is None:
            raise ProtocolError("failed", f"learn: no note or CC arrived within {LEARN_TIMEOUT_S:g} s")
        return learning.result

    async def _learn_from(self, control: Control, learning: Learning) -> None:
        fields = {control.kind: control.number, "channel": control.channel, "action": learning.action.text}
        new_map = with_binding(self.map, Binding.model_validate(fields))
        try:
            path = await trio.to_thread.run_sync(save_user_map, self.map_name, new_map)
        except (GeneratorError, OSError) as e:
            learning.finish(error=ProtocolError("failed", f"learn: could not save the controller map: {e}"))
            return
        self.map, self.bindings = new_map, Bindings(new_map)
        learning.finish({"control": control.describe(), "action": learning.action.text})
        self.bus.log("info", f"learned: {control.describe()} → {learning.action.text} (saved to {path})")

    # --- what actions do ----------------------------------------------------------------------------

    async def _request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """A protocol command, validated and handled exactly as a socket client's would be."""
        return await self.commands.dispatch(parse_request(request(0, cmd, args)))

    def _bar(self, tick: int) -> int:
        timeline = self.player.timeline
        return tick // timeline.bar_ticks + 1 if timeline else 1

    def _song(self) -> SongState:
        if self.player.song is None:
            raise ProtocolError("conflict", "no song is loaded")
        return self.player.song

    async def _jump(self, action: Action) -> str:
        step = action.group("step")
        if step is not None:
            section, quantize = self._step(1 if step == "next" else -1), "section"
        else:
            number, quantize = int(action.group("section") or 1), action.group("quantize") or "section"
            if number < 1:
                raise ProtocolError("bad_args", "sections are numbered from 1")
            section = number - 1
        r = await self._request("jump", section=section, quantize=quantize)
        if self.player.state != "playing":
            return f"start at {r['section']} (stopped: play starts there)"
        return f"jump to {r['section']} at bar {r['at_bar']}"

    def _step(self, by: int) -> int:
        """The section ``by`` away from the pending jump's target, else from the section playing."""
        sections = [s.name for s in self._song().arrangement.sections]
        pending = [c.detail for c in self.player.pending() if c.kind == "jump" and c.detail in sections]
        base = sections.index(pending[-1]) if pending else (self.player.transport().section_index or 0)
        return (base + by) % len(sections)

    async def _mute(self, action: Action) -> str:
        timeline = self.player.timeline
        if timeline is None:
            raise ProtocolError("conflict", "no song is loaded")
        on = not timeline.muted(action.argument, FAR)
        r = await self._request("mute", track=action.argument, on=on)
        return f"{'mute' if on else 'unmute'} {action.argument} from bar {r['at_bar']}"

    async def _regenerate(self, action: Action) -> str:
        r = await self._request("regenerate", part=action.argument)
        return f"regenerate {action.argument}: v{r['version']} from bar {r['at_bar']}"

    async def _ab(self, action: Action) -> str:
        r = await self._request("ab", part=action.argument)
        return f"A/B {action.argument}: alternative {r['label']} from bar {r['at_bar']}"

    async def _tempo(self, action: Action) -> str:
        self._song()
        current = self.player.tempo.bpm_at(FAR)
        bpm = round(min(300.0, max(20.0, current + float(action.argument))), 2)
        if bpm == current:
            return f"tempo stays {bpm:g} BPM (the limit)"
        TempoArgs(bpm=bpm)  # the protocol's own bounds
        at = await self.commands.supervisor.set_tempo(bpm)
        return f"tempo {bpm:g} BPM from bar {self._bar(at)}"

    async def _play(self, action: Action) -> str:
        if self.player.state == "playing":
            await self._request("stop")
            return "stop"
        r = await self._request("play")
        return f"play from {r['section']}"

    async def _panic(self, action: Action) -> str:
        await self._request("panic")
        return "panic: every note ended, all notes and sound off"


PERFORM: dict[str, Callable[[Controller, Action], Awaitable[str]]] = {
    "jump": Controller._jump,
    "mute": Controller._mute,
    "regenerate": Controller._regenerate,
    "ab": Controller._ab,
    "tempo": Controller._tempo,
    "play": Controller._play,
    "panic": Controller._panic,
}
"""What each verb of ``controls.ACTIONS`` does; returns the log line's description."""
assert PERFORM.keys() == ACTIONS.keys(), "every action in the table has exactly one performer"


def _off(bus: Bus, why: str) -> None:
    message = f"controller input is off: {why}"
    log.warning("%s", message)
    bus.log("warning", message)


async def run_controller(
    map_name: str, commands: Commands, bus: Bus, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Controller input for map ``map_name`` until cancelled; never fails the daemon (it logs why it is off)."""
    try:
        cmap, path = await trio.to_thread.run_sync(load_map, map_name)
        api = await trio.to_thread.run_sync(controller_api, commands.player.config.midi_api)
    except (ControllerMapError, NoMidiApiError) as e:
        _off(bus, str(e))
        task_status.started()
        return
    log.info("controller map %s from %s on %s", map_name, path, api)
    await Controller(map_name, cmap, commands, bus).run(api, task_status=task_status)
