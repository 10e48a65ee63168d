"""Controller input: a MIDI controller's pads and knobs drive the daemon, and learn mode rebinds them.

    rtmidi's input thread (ALSA, CoreMIDI, WinMM) or our reader thread (JACK, ``controller_port``)
      ──Controller.from_rtmidi──TrioToken.run_sync_soon──▶ channel (QUEUE) ──▶ _act_loop ──▶ Performer ──▶ dispatch
    _poll_loop       the named input port vanishing and returning (every POLL_S)

Three modules, one idea each: ``controls`` the maps (bindings, actions, learn's saved copy),
``controller_port`` the input port, ``perform`` what each action does. Actions become protocol
requests through the daemon's one ``dispatch``, so a pad gets exactly the validation and behaviour a
socket client gets; while controller input runs, the controller serves the ``learn`` command (it
registers its handler in the command table). With no usable MIDI API at all, or a map that does not
load, the daemon logs one warning and runs without controller input.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from backbeat.engine.errors import NoMidiApiError, PortError
from backbeat.engine.ports import DISPLAY
from backbeat.generators.errors import GeneratorError

from .bus import Bus
from .controller_port import ControlInput, controller_api
from .controls import (
    Action, Binding, Bindings, Control, ControllerMap, ControllerMapError, decode, load_map, parse_action,
    save_user_map, with_binding,
)
from .errors import ConflictError, FailedError, InvalidRequestError, RefusedError
from .perform import Performer
from .player import Player
from .protocol import LearnArgs, LearnResult, Payload, ProtocolError

log = logging.getLogger(__name__)

QUEUE = 64
"""Controller messages waiting for the action task; beyond it they are dropped (and counted)."""
POLL_S = 1.0
"""Seconds between checks that a named input port still exists (rtmidi gives no event)."""
LEARN_TIMEOUT_S = 30.0
"""Seconds a ``learn`` request waits for a control."""


class CommandTable(Protocol):
    """What the controller needs of the daemon's command table."""

    async def dispatch(self, request: Any) -> Payload: ...
    def register(self, cmd: str, handler: Callable[[Any], Awaitable[Payload]] | None) -> None: ...


# --- learn ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Learning:
    """A ``learn`` request waiting for a control."""

    action: Action
    done: trio.Event = field(default_factory=trio.Event)
    result: LearnResult | None = None
    error: RefusedError | None = None

    def finish(self, result: LearnResult | None = None, error: RefusedError | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


# --- the controller -----------------------------------------------------------------------------------


class Controller:
    """One controller map, its input port and learn mode, acting on the daemon through ``commands``
    (its ``dispatch``; ``learn`` is registered there while the controller runs) and reading ``player``.

    Made in the trio thread (it keeps that run's token for rtmidi's callbacks).
    """

    def __init__(self, map_name: str, cmap: ControllerMap, commands: CommandTable, player: Player, bus: Bus) -> None:
        self.map_name = map_name
        self.map = cmap
        self.bindings = Bindings(cmap)
        self.commands = commands
        self.player = player
        self.performer = Performer(commands.dispatch, player)
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
                self.commands.register("learn", self.learn)
                task_status.started()
                self.bus.log("info", self._listening(api))
        finally:
            self.commands.register("learn", None)
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
            done = await self.performer.perform(action)
        except (ProtocolError, RefusedError) as e:
            self.bus.log("warning", f"{control.label} → {action.text}: {e}")
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

    async def learn(self, args: LearnArgs) -> LearnResult:
        """The ``learn`` command: wait for the next note-on or CC and bind it to ``args.action``;
        saved to the user's copy of the map.

        Raises:
            InvalidRequestError: not an action. FailedError: nothing arrived in time, or the map
                could not be saved. ConflictError: a newer learn request replaced this one.
        """
        try:
            action = parse_action(args.action)
        except ControllerMapError as e:
            raise InvalidRequestError(f"learn: {e}") from None
        if self._learning is not None:
            self._learning.finish(error=ConflictError("a newer learn request replaced this one"))
        learning = self._learning = Learning(action)
        self.bus.log("info", f"learn: touch the pad, key or knob for {action.text} (within {LEARN_TIMEOUT_S:g} s)")
        with trio.move_on_after(LEARN_TIMEOUT_S):
            await learning.done.wait()
        if self._learning is learning:
            self._learning = None
        if learning.error is not None:
            raise learning.error
        if learning.result is None:
            raise FailedError(f"learn: no note or CC arrived within {LEARN_TIMEOUT_S:g} s")
        return learning.result

    async def _learn_from(self, control: Control, learning: Learning) -> None:
        fields = {control.kind: control.number, "channel": control.channel, "action": learning.action.text}
        new_map = with_binding(self.map, Binding.model_validate(fields))
        try:
            path = await trio.to_thread.run_sync(save_user_map, self.map_name, new_map)
        except (GeneratorError, OSError) as e:
            learning.finish(error=FailedError(f"learn: could not save the controller map: {e}"))
            return
        self.map, self.bindings = new_map, Bindings(new_map)
        learning.finish(LearnResult(control=control.describe(), action=learning.action.text))
        self.bus.log("info", f"learned: {control.describe()} → {learning.action.text} (saved to {path})")


def _off(bus: Bus, why: str) -> None:
    message = f"controller input is off: {why}"
    log.warning("%s", message)
    bus.log("warning", message)


async def run_controller(
    map_name: str, commands: CommandTable, player: Player, bus: Bus, *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Controller input for map ``map_name`` until cancelled; never fails the daemon (it logs why it is off)."""
    try:
        cmap, path = await trio.to_thread.run_sync(load_map, map_name)
        api = await trio.to_thread.run_sync(controller_api, player.config.midi_api)
    except (ControllerMapError, NoMidiApiError) as e:
        _off(bus, str(e))
        task_status.started()
        return
    log.info("controller map %s from %s on %s", map_name, path, api)
    await Controller(map_name, cmap, commands, player, bus).run(api, task_status=task_status)
