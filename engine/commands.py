"""What crosses the pipe between the owner and the engine process: config, commands, telemetry.

All frozen dataclasses of plain values and ``engine.events``/``engine.time`` values, so pickling them
is cheap and the engine process needs nothing beyond ``engine`` to read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import Event
from .time import PPQ, Meter, TempoMap

MIDI_APIS = ("auto", "alsa", "jack", "coremidi", "winmm", "monitor", "null", "record")
"""``auto`` picks the first usable API; ``monitor`` prints notes; ``null`` discards (benchmarks);
``record`` writes every message with its tick to ``record_path`` (tests)."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the engine process sets itself up."""

    midi_api: str = "auto"
    ports: tuple[str, ...] = ()
    """Existing output ports to play into, by name substring; empty: one virtual port."""
    client_name: str = "backbeat"
    port_name: str = "out"
    clock_out: tuple[str, ...] | None = None
    """Ports that get MIDI clock: None for none; () for every note output; else name substrings
    (of a note output, or of another existing port, which is then opened for clock only)."""
    follow: str | None = None
    """Input port (name substring) whose MIDI clock sets tempo and start/stop."""
    tempo: TempoMap = field(default_factory=TempoMap)
    meter: Meter = field(default_factory=Meter)
    rt_priority: int = 20
    """SCHED_FIFO priority to ask for (0: do not ask); ``nice`` is the fallback."""
    nice: int = -10
    telemetry_interval: float = 0.1
    port_poll_interval: float = 1.0
    stale_after: float = 0.1
    """A note-on that comes due this many seconds late is dropped instead of played."""
    record_path: str | None = None
    """File the ``record`` API writes to."""
    link: bool = False
    """Join an Ableton Link session: tempo and bar phase follow it (``engine.link``)."""
    link_start_stop: bool = False
    """With ``link``: start and stop with the session's transport, and share ours."""
    drum_notes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """Drum maps per note output: (port name substring, "" for every output; the 128 notes that
    channel-10 notes are sent as). The first row that matches a port is its map; none: unchanged."""
    restore: tuple[str, ...] = ()
    """(JACK) Ports the virtual port connects to as it opens, before its start-up panic: the
    listeners the engine before this one had (an owner restarting a crashed engine passes them)."""

    def __post_init__(self) -> None:
        if self.midi_api not in MIDI_APIS:
            raise ValueError(f"unknown MIDI API {self.midi_api!r} (choose from {', '.join(MIDI_APIS)})")
        if self.midi_api == "record" and not self.record_path:
            raise ValueError("the record API needs a record_path")
        if self.link and self.follow is not None:
            raise ValueError("follow a MIDI clock or join Link, not both: each would drive the tempo")


# --- owner -> engine ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class ReplaceFrom:
    track: str
    tick: int
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class SetTempo:
    tick: int
    bpm: float


@dataclass(frozen=True, slots=True)
class SetTempoMap:
    tempo: TempoMap


@dataclass(frozen=True, slots=True)
class Start:
    tick: int | None = 0
    """None: continue from where the transport stands."""


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Jump:
    at_tick: int | None
    to_tick: int


@dataclass(frozen=True, slots=True)
class Panic:
    pass


@dataclass(frozen=True, slots=True)
class RequestTelemetry:
    pass


@dataclass(frozen=True, slots=True)
class ResetStats:
    """Start the lateness histogram and counters afresh (benchmarks)."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


Command = (
    Schedule | ReplaceFrom | SetTempo | SetTempoMap | Start | Stop | Jump | Panic | RequestTelemetry
    | ResetStats | Shutdown
)


# --- engine -> owner ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortStatus:
    name: str
    """The port's full name as the MIDI API shows it (or what the user asked for, while down)."""
    role: str
    """``notes``, ``clock``, ``notes+clock``, ``follow`` or ``monitor``."""
    up: bool
    connections: tuple[str, ...] = ()
    """(a virtual port on JACK) The ports listening to it now."""
    missing: tuple[str, ...] = ()
    """(a virtual port on JACK) Listeners it had that are gone: connected again when they return."""


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """The Ableton Link session as the engine sees it."""

    peers: int
    """Other Link peers in the session."""
    bpm: float
    """The session's tempo."""
    phase_offset_ms: float
    """How far the engine's bar phase was from the session's at the latest sync, before it was
    corrected (> 0: the engine was behind)."""
    phase_max_ms: float
    """The largest |offset| since the previous telemetry."""
    playing: bool
    """The session's transport (shared only with start/stop sync)."""
    start_stop: bool


@dataclass(frozen=True, slots=True)
class Telemetry:
    """The engine's state at ``time`` (perf_counter seconds, the same clock in every process)."""

    time: float
    state: str
    """``playing`` or ``stopped``."""
    tick: int
    """The playhead."""
    bpm: float
    anchor_time: float
    anchor_tick: float
    """While playing, ``anchor_tick`` played at ``anchor_time``; deadlines follow from the tempo map."""
    p50_ms: float
    p99_ms: float
    max_ms: float
    early_count: int
    early_max_ms: float
    samples: int
    """Sends measured in the lateness figures (scheduled events and clock pulses)."""
    events_sent: int
    dropped_stale: int
    ports: tuple[PortStatus, ...]
    api: str
    priority: str
    timer_slack_ns: int | None
    clock: str
    """``internal``; ``follow`` when an external MIDI clock drives the transport; ``link``."""
    pid: int
    link: LinkStatus | None = None
    """The Link session, when the engine is in one."""

    def tick_at(self, now: float) -> float:
        """The playhead extrapolated to ``now`` at ``bpm`` (good for the next fraction of a second)."""
        if self.state != "playing":
            return float(self.tick)
        return self.tick + (now - self.time) * self.bpm * PPQ / 60.0


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the owner should tell the user: a port went down or came back, a bad command."""

    text: str
    level: str = "info"


@dataclass(frozen=True, slots=True)
class Fault:
    """The engine could not start, or cannot go on (its MIDI server went away); ``error`` names a
    class in ``engine.errors``."""

    error: str
    message: str
