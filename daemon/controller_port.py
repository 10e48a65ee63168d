"""The controller's MIDI input port: our own virtual port, or an existing one found by name and
reconnected when it returns; how messages leave rtmidi on each MIDI API; which API to listen on.

The port is opened with python-rtmidi in the daemon process, on the engine's MIDI API (the same
settings and ``--midi-api``); an engine without MIDI (``monitor``, ``null``, ``record``) leaves the
controller to the first usable API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

import rtmidi

from backbeat.engine.errors import PortError, VirtualPortUnsupportedError
from backbeat.engine.ports import APIS, DISPLAY, NamedPort, choose_api, quiet_stderr

VIRTUAL_PORT = "control"
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
