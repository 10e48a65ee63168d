"""MIDI ports through python-rtmidi: choosing an API, listing, opening, and noticing ports that vanish.

A note output is either a virtual port the engine owns (client ``backbeat``, port ``out``: other
programs connect to it) or an existing port found by name substring. rtmidi says nothing when a port
disappears, so ``poll()`` compares the names the API lists now with the one it connected to: a port
that vanishes is marked down (sends to it are dropped, the others keep playing) and is reconnected
when a port matching the user's name comes back.

libasound and libjack print their own complaints on stderr when an API is unusable; probes silence
them so the user reads one line that says why and what to do.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import rtmidi

from .commands import EngineConfig, PortStatus
from .errors import NoMidiApiError, PortError, PortNotFoundError, VirtualPortUnsupportedError
from .jack import JackGraph, open_graph
from .monitor import MonitorOutput, NullOutput, RecordOutput

APIS = {
    "alsa": rtmidi.API_LINUX_ALSA,
    "jack": rtmidi.API_UNIX_JACK,
    "coremidi": rtmidi.API_MACOSX_CORE,
    "winmm": rtmidi.API_WINDOWS_MM,
}
"""Our names for the rtmidi APIs (the ``--midi-api`` choices)."""

DISPLAY = {"alsa": "ALSA", "jack": "JACK", "coremidi": "CoreMIDI", "winmm": "WinMM"}

_PREFERENCE = {"linux": ("alsa", "jack"), "darwin": ("coremidi", "jack"), "win32": ("winmm",)}

_FIX = {
    "alsa": "the ALSA sequencer did not open (sudo modprobe snd-seq)",
    "jack": "no JACK server is running (start jackd or PipeWire's JACK; JACK_DEFAULT_SERVER names one)",
    "coremidi": "CoreMIDI did not open (is this a macOS session with MIDI access?)",
    "winmm": "Windows MIDI did not open",
}

LINK_WAIT = 0.5
"""How long opening a port waits for the connections it makes to be in the JACK graph (a panic sent
before that would reach nobody)."""

NAME_WAIT = 1.0
"""How long a JACK engine waits at start for a crashed predecessor's client (same name) to be gone,
so that its ports get the same names again."""

LOOPMIDI_HINT = (
    "Windows cannot create virtual MIDI ports: install loopMIDI "
    "(https://www.tobias-erichsen.de/software/loopmidi.html), create a port in it, and pass --port loopMIDI"
)


@dataclass(frozen=True, slots=True)
class ApiStatus:
    """Whether a MIDI API can be used here, and if not, why and how to fix it."""

    name: str
    usable: bool
    detail: str = ""


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence C libraries writing to fd 2 (probes only: never around sends)."""
    try:
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def platform_apis() -> tuple[str, ...]:
    """The APIs worth trying on this platform, preferred first."""
    for prefix, names in _PREFERENCE.items():
        if sys.platform.startswith(prefix):
            return names
    return tuple(APIS)


def probe(name: str) -> ApiStatus:
    """Try to open a client on API ``name``."""
    if APIS[name] not in rtmidi.get_compiled_api():
        return ApiStatus(name, False, f"{name} support is not compiled into python-rtmidi here")
    if name == "alsa" and not os.path.exists("/dev/snd/seq"):
        return ApiStatus(name, False, "/dev/snd/seq is missing (sudo modprobe snd-seq)")
    # libjack would otherwise try to launch a server with whatever ~/.jackdrc says.
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    try:
        with quiet_stderr():
            client = rtmidi.MidiOut(APIS[name], name="backbeat-probe")
        client.delete()
    except rtmidi.RtMidiError:
        return ApiStatus(name, False, _FIX[name])
    return ApiStatus(name, True)


def choose_api(requested: str) -> str:
    """The API to use: ``requested`` if usable, or for ``auto`` the first usable one.

    Raises:
        NoMidiApiError: with one line that says why nothing works and how to fix it.
    """
    if requested in ("monitor", "null", "record"):
        return requested
    names = platform_apis() if requested == "auto" else (requested,)
    statuses = [probe(name) for name in names]
    for status in statuses:
        if status.usable:
            return status.name
    if requested != "auto":
        raise NoMidiApiError(f"{DISPLAY[requested]} is not usable: {statuses[0].detail}")
    reasons = "; ".join(f"{DISPLAY[s.name]}: {s.detail}" for s in statuses)
    raise NoMidiApiError(f"no MIDI API is usable ({reasons})")


def list_ports(api: str) -> tuple[list[str], list[str]]:
    """(outputs you can play into, inputs you can follow) on ``api``."""
    with quiet_stderr():
        out, inp = rtmidi.MidiOut(APIS[api], name="backbeat-list"), rtmidi.MidiIn(APIS[api], name="backbeat-list")
    try:
        return list(out.get_ports()), list(inp.get_ports())
    finally:
        out.delete()
        inp.delete()


def _wait(done: Callable[[], bool], timeout: float) -> bool:
    """Poll ``done`` every millisecond for up to ``timeout`` seconds (opening ports only, never in the loop)."""
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            return False
        time.sleep(0.001)
    return True


def match_port(names: list[str], pattern: str, *, exclude_client: str = "") -> int | None:
    """Index of the first name containing ``pattern`` (case-insensitive), skipping our own client's."""
    wanted = pattern.casefold()
    for i, name in enumerate(names):
        if exclude_client and name.casefold().startswith(exclude_client.casefold() + ":"):
            continue
        if wanted in name.casefold():
            return i
    return None


def _not_found(kind: str, pattern: str, names: list[str], api: str) -> PortNotFoundError:
    listing = ", ".join(repr(n) for n in names) if names else "none"
    return PortNotFoundError(f"no {api} {kind} port matches {pattern!r}; ports that exist: {listing}")


class NamedPort:
    """Shared open/poll/reconnect logic of an rtmidi output or input found by name (the daemon's
    controller input builds on it too).

    On JACK, with a ``graph`` (``engine.jack``), a port is up only while its connection to the
    port it was matched to is in the graph (so a panic sent on "up" reaches the listener), and a
    dropped connection is made again at once."""

    kind = "output"
    graph: JackGraph | None = None
    """Set by ``open_ports`` on JACK; without it, ``poll`` compares names only."""

    def __init__(self, api: str, client: str, pattern: str, role: str) -> None:
        self.api, self.client, self.pattern, self.role = api, client, pattern, role
        self.label = pattern
        self.name = pattern
        self.up = False
        self.own = ""
        """Our own port's full name (JACK, once opened): the client name JACK gave us may differ."""
        self.settling = False
        """(JACK) The last poll asked for a connection: poll again soon, to see it in the graph."""
        self._midi: rtmidi.MidiOut | rtmidi.MidiIn | None = None

    @property
    def pollable(self) -> bool:
        return bool(self.pattern)

    def _make(self) -> rtmidi.MidiOut | rtmidi.MidiIn:
        return rtmidi.MidiOut(APIS[self.api], name=self.client)

    def open(self) -> None:
        """Connect, or raise PortNotFoundError listing what exists."""
        try:
            with quiet_stderr():
                self._midi = self._make()
        except rtmidi.RtMidiError as error:
            raise PortError(f"cannot open a {self.api} client: {error}") from None
        if not self._connect():
            names = self._midi.get_ports()
            self.close()
            raise _not_found(self.kind, self.pattern, names, self.api)
        if self.graph is not None:
            self.up = _wait(lambda: self._linked(), LINK_WAIT)

    def _connect(self) -> bool:
        assert self._midi is not None
        names = self._midi.get_ports()
        index = match_port(names, self.pattern, exclude_client=self.client)
        if index is None:
            return False
        own_name = self.role.split("+")[0]
        before = self.graph.ports() if self.graph is not None else set()
        try:
            self._midi.open_port(index, name=own_name)
        except rtmidi.RtMidiError:
            return False
        self.name, self.up = names[index], True
        if self.graph is not None:  # up once the connection is in the graph (``poll``)
            self.own, self.up = self._find_own(before, own_name), False
        return True

    def _find_own(self, before: set[str], own_name: str) -> str:
        """Our port: the one that appeared when rtmidi opened it (else one of our client's by name)."""
        suffix = ":" + own_name
        ports = self.graph.ports()
        mine = [p for p in ports - before if p.endswith(suffix)]
        mine = mine or [p for p in ports if p.endswith(suffix) and p.startswith(self.client)]
        return mine[0] if mine else ""

    def _linked(self) -> bool:
        return bool(self.own) and self.name in self.graph.connections(self.own)

    def _link(self) -> None:
        source, destination = (self.own, self.name) if self.kind == "output" else (self.name, self.own)
        self.settling = self.graph.connect(source, destination)

    def poll(self) -> str | None:
        """Check the port still exists (on JACK: is still connected); returns ``down``/``up`` when
        that changed."""
        if self._midi is None:
            return None
        if self.graph is not None:
            return self._poll_graph()
        try:
            names = self._midi.get_ports()
        except rtmidi.RtMidiError:
            names = []
        if self.up and self.name not in names:
            self._midi.close_port()
            self.up = False
            return "down"
        if not self.up and self._connect():
            return "up"
        return None

    def _poll_graph(self) -> str | None:
        graph = self.graph
        self.settling = False
        if not graph.alive:
            return None  # the engine ends: nothing on this server can be reopened
        linked = self._linked()
        if self.up and linked:
            return None
        exists = self.name in graph.ports()
        if self.up:  # it vanished, or someone dropped our connection
            self.up = False
            if exists:
                self._link()  # up again at the next poll, once the graph has it
            else:
                self._midi.close_port()
                self.own = ""
            return "down"
        if linked:
            self.up = True
            return "up"
        if self.own and exists:
            self._link()
        elif not self.own:
            self.settling = self._connect()
        return None

    def status(self) -> PortStatus:
        return PortStatus(self.name, self.role, self.up)

    def close(self) -> None:
        if self._midi is not None:
            self._midi.close_port()
            self._midi.delete()
            self._midi = None
        self.up = False


class RtOutput(NamedPort):
    """An output: a virtual port we own (``virtual`` set), or an existing port found by ``pattern``.

    A virtual port on JACK keeps track of its listeners: one that vanishes is connected again when a
    port of that name returns (a listener that is disconnected while it exists was let go on
    purpose), ``restore`` names listeners to connect at open (what the engine before this one had),
    and ``poll`` says ``reconnected`` when one of them is back, so the engine panics before the next
    note reaches it."""

    def __init__(self, api: str, client: str, *, pattern: str = "", virtual: str = "", role: str = "notes",
                 restore: tuple[str, ...] = ()) -> None:
        super().__init__(api, client, pattern, role)
        self.virtual = virtual
        if virtual:
            self.label = self.name = f"{client}:{virtual}"
        self.connected: set[str] = set()
        """(virtual, JACK) The ports listening now."""
        self.missing: set[str] = set(restore)
        """(virtual, JACK) Listeners it had that are gone: connected again when they return."""

    @property
    def pollable(self) -> bool:
        return bool(self.pattern) or (bool(self.virtual) and self.graph is not None)

    def open(self) -> None:
        if not self.virtual:
            return super().open()
        if self.api == "winmm":
            raise VirtualPortUnsupportedError(LOOPMIDI_HINT)
        before = self.graph.ports() if self.graph is not None else set()
        try:
            with quiet_stderr():
                self._midi = self._make()
            self._midi.open_virtual_port(self.virtual)
        except (rtmidi.RtMidiError, NotImplementedError) as error:
            raise PortError(f"cannot create virtual port {self.label} on {self.api}: {error}") from None
        self.up = True
        if self.graph is not None:
            self.name = self._find_own(before, self.virtual) or self.name  # JACK renames a taken client name
            for name in self._restorable():
                self.graph.connect(self.name, name)
            _wait(lambda: not (self._restorable() - self.graph.connections(self.name)), LINK_WAIT)
            self.connected = self.graph.connections(self.name)
            self.missing -= self.connected

    def _restorable(self) -> set[str]:
        """Missing listeners whose ports exist again."""
        return self.missing & self.graph.ports() if self.missing else set()

    def poll(self) -> str | None:
        if not self.virtual:
            return super().poll()
        graph = self.graph
        if graph is None or not graph.alive:
            return None
        now = graph.connections(self.name)
        if gone := self.connected - now:
            self.missing |= gone - graph.ports()
        back = now & self.missing
        self.missing -= back
        self.connected = now
        self.settling = False
        for name in self._restorable():  # in the graph by the next poll, which says "reconnected"
            self.settling = graph.connect(self.name, name) or self.settling
        return "reconnected" if back else None

    def status(self) -> PortStatus:
        return PortStatus(self.name, self.role, self.up, tuple(sorted(self.connected)), tuple(sorted(self.missing)))

    def send(self, message: tuple[int, ...], tick: int = -1, track: str = "") -> None:
        if self.up:
            try:
                self._midi.send_message(message)  # type: ignore[union-attr]
            except (rtmidi.RtMidiError, ValueError):
                self.up = False  # the next poll reconnects it

    def transport(self, kind: str, tick: int) -> None:
        """Outputs that print (the monitor) show transport changes; a MIDI port has nothing to do."""

    def flush(self) -> None:
        """Nothing is buffered on a MIDI port."""


class RtInput(NamedPort):
    """An existing port we listen to, found by ``pattern``; messages go to ``callback`` on rtmidi's thread."""

    kind = "input"

    def __init__(self, api: str, client: str, pattern: str, callback: Callable[[list[int]], None]) -> None:
        super().__init__(api, client, pattern, "follow")
        self._callback = callback

    def _make(self) -> rtmidi.MidiIn:
        midi = rtmidi.MidiIn(APIS[self.api], name=self.client)
        midi.ignore_types(sysex=True, timing=False, active_sense=True)  # timing=False: we want the clock
        midi.set_callback(lambda event, _data: self._callback(event[0]))
        return midi


Output = RtOutput | MonitorOutput | NullOutput


@dataclass
class PortSet:
    """Everything the engine opened: note outputs (the scheduler's ports), clock outputs, follow input."""

    api: str
    notes: list[Output]
    clock: list[Output] = field(default_factory=list)
    """Outputs that get MIDI clock; may include note outputs."""
    clock_only: list[Output] = field(default_factory=list)
    follow: RtInput | None = None
    notice: str | None = None
    """Something the user should read, e.g. why playback went to the terminal monitor."""
    graph: JackGraph | None = None
    """On JACK: the engine's view of the graph (``engine.jack``); it says when the server is gone."""
    on_lost: Callable[[], None] = lambda: None
    """Called (on libjack's thread) when the JACK server goes away."""

    def all(self) -> list[Output | RtInput]:
        return [*self.notes, *self.clock_only, *([self.follow] if self.follow else [])]

    @property
    def server_lost(self) -> bool:
        return self.graph is not None and not self.graph.alive

    @property
    def settling(self) -> bool:
        """A port asked for a connection that is not in the graph yet."""
        return any(getattr(p, "settling", False) for p in self.all())

    def _lost(self) -> None:  # libjack's thread: nothing may be sent into a dead client
        for port in self.all():
            port.up = False
        self.on_lost()

    def close(self) -> None:
        """Close every port (not after the server is lost: see ``abandon``)."""
        for port in self.all():
            port.close()
        if self.graph is not None:
            self.graph.close()


def open_ports(config: EngineConfig, on_input: Callable[[list[int]], None],
               on_lost: Callable[[], None] = lambda: None) -> PortSet:
    """Open what ``config`` asks for; with ``auto`` and no usable API, the terminal monitor.
    ``on_lost`` is called, from libjack's thread, if the JACK server goes away.

    Raises:
        PortError: a named port does not exist (PortNotFoundError), a virtual port is impossible
            (VirtualPortUnsupportedError), an explicitly requested API is unusable (NoMidiApiError).
    """
    notice = None
    try:
        api = choose_api(config.midi_api)
    except NoMidiApiError as error:
        if config.midi_api != "auto":
            raise
        api, notice = "monitor", f"{error}: playing to the terminal monitor"
    ports = PortSet(api, [], notice=notice, on_lost=on_lost)
    try:
        if api == "jack":
            ports.graph = graph = open_graph(f"{config.client_name}-graph", ports._lost)
            if graph is not None:  # the engine this one replaces may linger a moment: let its name go first
                _wait(lambda: not any(p.startswith(config.client_name + ":") for p in graph.ports()), NAME_WAIT)
        if api == "monitor":
            ports.notes.append(MonitorOutput(config.meter))
        elif api == "null":
            ports.notes.append(NullOutput())
        elif api == "record":
            ports.notes.append(RecordOutput(config.record_path or ""))
        elif config.ports:
            ports.notes.extend(RtOutput(api, config.client_name, pattern=p) for p in dict.fromkeys(config.ports))
        else:
            ports.notes.append(RtOutput(api, config.client_name, virtual=config.port_name, restore=config.restore))
        for port in ports.notes:
            _with_graph(port, ports.graph).open()
        _open_clock(config, ports)
        if config.follow is not None:
            if api in ("monitor", "null", "record"):
                raise PortError("following an external clock needs a MIDI API (none is usable here)")
            ports.follow = RtInput(api, config.client_name, config.follow, on_input)
            _with_graph(ports.follow, ports.graph).open()
    except BaseException:
        ports.close()
        raise
    return ports


def _with_graph(port: Output | RtInput, graph: JackGraph | None) -> Output | RtInput:
    if graph is not None and isinstance(port, NamedPort):
        port.graph = graph
    return port


def _open_clock(config: EngineConfig, ports: PortSet) -> None:
    if config.clock_out is None:
        return
    patterns = config.clock_out
    if not patterns or ports.api in ("monitor", "null", "record"):
        ports.clock = list(ports.notes)
    for pattern in patterns if ports.api not in ("monitor", "null", "record") else ():
        wanted = pattern.casefold()
        same = [o for o in ports.notes if wanted in o.label.casefold() or wanted in o.name.casefold()]
        if same:
            ports.clock.extend(o for o in same if o not in ports.clock)
            continue
        extra = RtOutput(ports.api, config.client_name, pattern=pattern, role="clock")
        _with_graph(extra, ports.graph).open()
        ports.clock_only.append(extra)
        ports.clock.append(extra)
    for port in ports.notes:
        if port in ports.clock and isinstance(port, RtOutput):
            port.role = "notes+clock"
