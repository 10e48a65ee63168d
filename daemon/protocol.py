"""The protocol of docs/PROTOCOL.md as values: every command's arguments and event payloads (the
envelope builders live in ``envelope``, re-exported here).

No I/O and no trio: the daemon and the TUI (asyncio) share this module. ``parse_request`` turns a
decoded frame into a validated ``Request`` or raises ``ProtocolError`` with the error code the
client is owed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, model_serializer

from backbeat.generators.names import Part

from .envelope import PROTOCOL, error, event, frame_id, hello, ok, request  # noqa: F401 (the envelope, re-exported)

ErrorCode = Literal[
    "bad_frame", "too_large", "unknown_command", "bad_args", "not_found", "conflict", "unavailable", "failed", "internal",
    "too_many_clients", "timeout", "unauthorized",
]
EVENTS = ("transport", "pipeline", "buffer", "song", "gate", "swap", "log")


class ProtocolError(Exception):
    """A request the daemon refuses, with the code and one-line message of the error reply."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, use_attribute_docstrings=True)


# --- command arguments ---------------------------------------------------------------------------


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("a path cannot hold a NUL character")
    return text


SectionRef = Annotated[str, Field(min_length=1, max_length=200)] | Annotated[int, Field(ge=0, le=9999)]
"""A section: its name or kind, or its zero-based index."""
FolderPath = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_no_nul)]
"""A folder on the daemon's machine (at most PATH_MAX characters, no NUL)."""


class NoArgs(Wire):
    pass


class GenerateArgs(Wire):
    prompt: Annotated[str, Field(min_length=1, max_length=2000)]
    seed: Annotated[int, Field(ge=0, lt=2**63)] | None = None
    bars: Annotated[int, Field(ge=1, le=1024)] | None = None
    play: bool = False
    gates: bool = False
    """Pause after intent, harmony, arrangement and parts for an answer (``gate``)."""
    loop: bool = True
    """With ``play``: loop the new song (the default), or play it through once."""


class GateArgs(Wire):
    choice: Literal["yes", "alternative", "edit", "quit"]
    text: Annotated[str, Field(max_length=2000)] = ""
    """With ``edit``: the change, in words ("key D minor", "3rd chord darker")."""


class PlayArgs(Wire):
    session: FolderPath | None = None
    """A session folder to load first."""
    section: SectionRef | None = None
    loop: bool = True


class TempoArgs(Wire):
    bpm: Annotated[float, Field(ge=20, le=300)]


class JumpArgs(Wire):
    section: SectionRef
    quantize: Literal["bar", "section"] = "section"


class PartArgs(Wire):
    part: Part


class MuteArgs(Wire):
    track: Part
    on: bool


class RefineArgs(Wire):
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    dry_run: bool = False
    """Read the request and say what it would change, changing nothing."""


class SayArgs(Wire):
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    """Anything typed into the one input line: a question, a change, or a new song."""


class AlternativesArgs(Wire):
    part: Part
    n: Annotated[int, Field(ge=1, le=12)] = 3


class ChooseArgs(Wire):
    part: Part
    option: Annotated[str, Field(min_length=1, max_length=3)]
    """An alternative's label: A, B, C, ..."""


class SubscribeArgs(Wire):
    topics: list[Literal["transport", "pipeline", "buffer", "song", "gate", "swap", "log"]] | None = None


class LearnArgs(Wire):
    action: Annotated[str, Field(min_length=1, max_length=100)]


ARGS: dict[str, type[Wire]] = {
    "status": NoArgs,
    "generate": GenerateArgs,
    "play": PlayArgs,
    "stop": NoArgs,
    "start": NoArgs,
    "toggle": NoArgs,
    "tempo": TempoArgs,
    "jump": JumpArgs,
    "regenerate": PartArgs,
    "mute": MuteArgs,
    "say": SayArgs,
    "refine": RefineArgs,
    "alternatives": AlternativesArgs,
    "choose": ChooseArgs,
    "ab": PartArgs,
    "undo": NoArgs,
    "gate": GateArgs,
    "subscribe": SubscribeArgs,
    "ports": NoArgs,
    "panic": NoArgs,
    "learn": LearnArgs,
    "shutdown": NoArgs,
}
"""Every command of protocol version 1 and the model its ``args`` must validate as."""


class Request(Wire):
    id: int
    cmd: str
    args: Wire


def parse_request(frame: dict[str, Any]) -> Request:
    """A decoded frame as a validated request.

    Raises:
        ProtocolError: ``bad_frame``, ``unknown_command`` or ``bad_args``.
    """
    if frame.get("type") != "request":
        raise ProtocolError("bad_frame", 'expected {"type": "request", "id": ..., "cmd": ...}')
    request_id, cmd, args = frame.get("id"), frame.get("cmd"), frame.get("args", {})
    if type(request_id) is not int or not isinstance(cmd, str):
        raise ProtocolError("bad_frame", "a request needs an integer id and a string cmd")
    extra = set(frame) - {"type", "id", "cmd", "args"}
    if extra:
        raise ProtocolError("bad_frame", f"unknown request fields: {', '.join(sorted(map(str, extra)))}")
    model = ARGS.get(cmd)
    if model is None:
        raise ProtocolError("unknown_command", f"unknown command {cmd[:40]!r}")
    if not isinstance(args, dict):
        raise ProtocolError("bad_args", f"{cmd}: args must be a map")
    try:
        return Request(id=request_id, cmd=cmd, args=model.model_validate(args))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "args"
        raise ProtocolError("bad_args", f"{cmd}: {where}: {first['msg']}") from None


# --- payloads (results and events) ------------------------------------------------------------------


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Transport(Payload):
    state: Literal["playing", "stopped"]
    bar: int
    """One-based bar of the performance (counts on through loops and jumps)."""
    beat: int
    tick: int
    section: str | None
    section_index: int | None
    song_bar: int | None = None
    """One-based bar of the song playing now (where the performance is in the arrangement)."""
    bpm: float
    """The tempo playing now; stopped, the loaded song's."""
    loop: bool = True
    """This playback loops (docs/PROTOCOL.md, "Looping": every playback does unless started with ``loop: false``)."""
    ended: bool = False
    """Stopped because the song reached its end (played with ``loop: false``), not by ``stop``."""


class Lateness(Payload):
    p50: float
    p99: float
    max: float


class LinkInfo(Payload):
    peers: int
    """Other peers in the Ableton Link session."""
    bpm: float
    """The session's tempo."""
    phase_offset_ms: float
    """The engine's bar phase against the session's at its latest sync, before correction."""
    start_stop: bool


class EngineStatus(Payload):
    alive: bool
    pid: int | None
    lateness_ms: Lateness
    early: int
    events_sent: int
    priority: str
    api: str
    link: LinkInfo | None = None
    """The Link session, when the engine is in one (``--link``)."""
    error: str | None = None
    """Why the engine is not running (its last start failed); None while it runs."""
    restarts: int = 0
    """Engines started to replace one that died."""
    retry_in_s: float | None = None
    """While no engine runs: seconds until the next start is tried."""


class PortInfo(Payload):
    name: str
    up: bool
    role: str
    connections: list[str] = []
    """(the virtual port, on JACK) The ports listening to it."""
    missing: list[str] = []
    """(the virtual port, on JACK) Listeners that went away: connected again when they return."""
    drum_map: str | None = None
    """(a port that sends notes) The drum map its drum notes go through (config/drum_maps)."""


class SectionInfo(Payload):
    name: str
    bars: int
    start_bar: int


class SessionInfo(Payload):
    path: str | None
    session_id: str
    prompt: str
    key: str
    bpm: float
    sections: list[SectionInfo]


class PendingChange(Payload):
    kind: str
    at_bar: int
    detail: str


class PipelineStatus(Payload):
    running: bool
    stage: str | None


class ClipState(Payload):
    section: int
    source: str
    version: int


class BufferEvent(Payload):
    tracks: dict[str, list[ClipState]]
    ready_bars: int
    muted: list[str] = []
    """The parts muted (or to be muted at the next bar) in what plays."""


class GateEvent(Payload):
    """An approval gate of a ``generate {gates: true}``: open (waiting for ``gate``) or closed."""

    stage: str
    summary: str
    """What the stage made, in one line."""
    problem: str | None = None
    """Why the last answer could not be used (asked again)."""
    open: bool = True


class SongEvent(Payload):
    """The whole song a client shows, sent when it changes: another song (composed, loaded, brought
    back by an undo), another arrangement, tempo, key or folder."""

    session: SessionInfo | None
    buffer: BufferEvent | None


class Status(Payload):
    transport: Transport
    session: SessionInfo | None
    buffer: BufferEvent | None = None
    """What is ready per track and section (as the last ``buffer`` event said)."""
    engine: EngineStatus
    ports: list[PortInfo]
    pipeline: PipelineStatus
    pending: list[PendingChange]
    save_error: str | None = None
    """Why the song's session folder could not be written; the song is kept in memory and written
    again every few seconds until it is. None while the folder is current."""
    last_session_error: str | None = None
    """Why the last session could not be loaded when the daemon started."""
    gate: GateEvent | None = None
    """The approval gate waiting for an answer, if any."""


class PipelineEvent(Payload):
    stage: str
    index: int
    status: Literal["start", "done", "retry", "failed"]
    message: str
    duration_ms: float


class SwapEvent(Payload):
    kind: str
    at_bar: int
    tick: int
    detail: str
    landed: bool


class LogEvent(Payload):
    level: Literal["info", "warning", "error"]
    message: str


# --- results (one model per command; the reply's ``result`` is its JSON) ------------------------------


class Done(Payload):
    """The result of a command with nothing more to say: ``{}`` (stop, panic, shutdown)."""


class GenerateResult(Payload):
    session_id: str
    seed: int


class AtBar(Payload):
    """Where a change lands (tempo, mute): its one-based performance bar."""

    at_bar: int


class JumpResult(Payload):
    at_bar: int
    section: str


class RegenerateResult(Payload):
    at_bar: int | None
    """None when the new version came out note for note as the old one (nothing to land)."""
    version: int
    """The part's newest clip version."""


class PortName(Payload):
    api: str
    name: str


class PortsResult(Payload):
    outputs: list[PortName]
    inputs: list[PortName]
    open: list[PortInfo]
    """The engine's own ports, as ``status`` lists them."""


class LearnResult(Payload):
    control: str
    """The control that arrived, e.g. ``note 36 ch 10``."""
    action: str


class RefineResult(Payload):
    targets: list[str]
    notes: list[str]
    at_bar: int | None
    """Where the first part of the change lands (None: nothing on the timeline changed, or a dry run)."""
    read: list[str] = []
    """The changes as the grammar read them, in the order they apply."""
    corrections: list[str] = []
    """Every misspelt word read as another, one line each."""
    dry_run: bool = False
    """Nothing changed: this is what the request would do."""


class QuestionResult(Payload):
    """A request that was not clear enough: nothing changed."""

    question: str
    read: list[str] = []
    corrections: list[str] = []


class AlternativeInfo(Payload):
    label: str
    approach: str
    score: float
    description: str


class AlternativesResult(Payload):
    alternatives: list[AlternativeInfo]


class ChooseResult(Payload):
    part: str
    label: str
    at_bar: int | None


class UndoResult(Payload):
    notes: list[str]
    at_bar: int | None


class SubscribeResult(Payload):
    topics: list[str]


class AnswerResult(Payload):
    """``say`` answered a question from the song."""

    kind: Literal["answer"] = "answer"
    answer: str
    data: dict[str, Any]


class SaidRefine(RefineResult):
    kind: Literal["refine"] = "refine"


class SaidQuestion(QuestionResult):
    kind: Literal["refine"] = "refine"


class SaidGenerate(GenerateResult):
    kind: Literal["generate"] = "generate"


class SaidCommand(Payload):
    """``say`` ran a command typed in words: its name, and that command's own result beside it."""

    kind: Literal["command"] = "command"
    command: str
    """The command as read: "jump chorus 1", "stop", "undo"."""
    result: SerializeAsAny[Payload]

    @model_serializer(mode="wrap")
    def _beside(self, handler: Any) -> dict[str, Any]:
        fields = handler(self)
        return {**{k: v for k, v in fields.items() if k != "result"}, **fields["result"]}
