"""Controller maps and the action table: what a pad, a button or a knob may make the daemon do.

A map (``config/controllers/NAME.toml``, or the user's copy of the same name, which wins) names an
input port and binds notes and CCs to *actions*, strings such as ``"jump:2"`` or ``"tempo:+1"``.
Every action is one row of ``ACTIONS``; ``parse_action`` is the only way an action string becomes an
``Action``, so a map, a learn request and the docs all agree on what exists.

Also the pure half of controller input: ``decode`` (MIDI bytes to a ``Control``), ``Bindings`` (which
bindings a control fires, through the ``TRIGGERS`` table) and ``Versions`` (what A/B switches between).

No trio, no MIDI I/O (``controller`` does both). Maps are read with ``tomllib`` and written back
(learn mode) by ``dumps``, which keeps the one-binding-per-line style of the shipped maps.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backbeat.generators.errors import FileTooLargeError
from backbeat.generators.files import CONFIG_FILE_LIMIT, atomic_write, read_limited
from backbeat.generators.names import PARTS
from backbeat.generators.settings import CONFIG_DIR

from .errors import DaemonError

_PART = "|".join(PARTS)


class ControllerMapError(DaemonError, ValueError):
    """A controller map that is missing or invalid, or an action string that is not in the table."""


# --- the action table -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One kind of action: the arguments it takes (a regular expression over what follows ``verb:``)."""

    verb: str
    argument: str
    """Full-match pattern of the argument; empty: the action takes none."""
    usage: str
    help: str


ACTIONS: dict[str, ActionSpec] = {
    spec.verb: spec
    for spec in (
        ActionSpec("jump", r"(?P<section>\d{1,3})(?::(?P<quantize>bar|section))?|(?P<step>next|previous)",
                   "jump:N | jump:N:bar | jump:next | jump:previous",
                   "jump to section N (1 = the first) at the next section boundary, or at the next bar with :bar; "
                   "next/previous step from the current (or already pending) section, wrapping around"),
        ActionSpec("mute", _PART, "mute:PART", "toggle the part's mute from the next bar"),
        ActionSpec("regenerate", _PART, "regenerate:PART", "write a new version of the part; it lands at the next section"),
        ActionSpec("ab", _PART, "ab:PART",
                   "switch the part between its two most recent versions at the next section "
                   "(with only one version, write the B version first)"),
        ActionSpec("tempo", r"[+-](?:\d{1,3}(?:\.\d{1,2})?)", "tempo:+N | tempo:-N", "nudge the tempo by N BPM from the next bar"),
        ActionSpec("play", "", "play", "start playback when stopped, stop it when playing"),
        ActionSpec("panic", "", "panic", "end every note; all notes off, all sound off, sustain off on every channel"),
    )
}
"""Every action a control can be bound to, by verb."""


@dataclass(frozen=True, slots=True)
class Action:
    """A parsed action string: ``verb`` is a key of ``ACTIONS``; ``group`` reads its argument's named parts."""

    text: str
    verb: str
    argument: str

    def group(self, name: str) -> str | None:
        match = re.fullmatch(ACTIONS[self.verb].argument, self.argument)
        return match.group(name) if match else None


def parse_action(text: str) -> Action:
    """``"jump:2"`` as an Action.

    Raises:
        ControllerMapError: the verb is not in ``ACTIONS`` or its argument does not fit.
    """
    verb, colon, argument = text.strip().partition(":")
    spec = ACTIONS.get(verb)
    if spec is None:
        raise ControllerMapError(f"unknown action {text!r}; actions: {', '.join(s.usage for s in ACTIONS.values())}")
    if bool(colon) != bool(spec.argument) or not re.fullmatch(spec.argument, argument):
        raise ControllerMapError(f"bad action {text!r}: expected {spec.usage}")
    return Action(text.strip(), verb, argument)


# --- maps -----------------------------------------------------------------------------------------

When = Literal["on", "off", "up", "down", "any"]


class MapModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Binding(MapModel):
    """One control (a note or a CC, optionally on one channel) and the action it triggers."""

    note: Annotated[int, Field(ge=0, le=127)] | None = None
    """A note number (pads): the action runs on note-on with a velocity above 0."""
    cc: Annotated[int, Field(ge=0, le=127)] | None = None
    """A controller number (knobs, buttons that send CCs)."""
    channel: Annotated[int, Field(ge=1, le=16)] | None = None
    """MIDI channel 1-16 as the controller shows it; omitted: any channel."""
    action: str
    """A row of the action table: ``jump:2``, ``mute:bass``, ``tempo:+1``, ``panic``..."""
    when: When | None = None
    """CCs only. ``on``: value above 0 (the default: a button press); ``off``: value 0; ``up``/``down``:
    the value rose/fell since the control's last message (an absolute knob turned); ``any``: every message."""

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        try:
            return parse_action(value).text
        except ControllerMapError as e:
            raise ValueError(str(e)) from None

    @model_validator(mode="after")
    def _one_control(self) -> Binding:
        if (self.note is None) == (self.cc is None):
            raise ValueError("a binding has exactly one of note = N or cc = N")
        if self.note is not None and self.when not in (None, "on"):
            raise ValueError("`when` is for CCs; a note binding runs on note-on")
        return self

    @property
    def kind(self) -> Literal["note", "cc"]:
        return "note" if self.note is not None else "cc"

    @property
    def number(self) -> int:
        return self.note if self.note is not None else self.cc  # type: ignore[return-value]

    @property
    def trigger(self) -> When:
        return self.when or "on"

    def control(self) -> str:
        """``note 36``, ``cc 70 ch 2``: the control as a person names it."""
        return describe_control(self.kind, self.number, self.channel)


class ControllerMap(MapModel):
    """A controller map: which port to listen on and what each control does."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    """A display name ("Generic 16-pad controller")."""
    description: str = ""
    port: str = ""
    """Input port name substring (case-insensitive), e.g. "MPK mini"; empty: backbeat opens its own
    virtual input port, "<client name> control:control", and you connect the controller to it."""
    bindings: tuple[Binding, ...] = ()

    @model_validator(mode="after")
    def _no_duplicates(self) -> ControllerMap:
        seen: dict[tuple[str, int, int | None, str], str] = {}
        for b in self.bindings:
            key = (b.kind, b.number, b.channel, b.trigger)
            if key in seen:
                raise ValueError(f"{b.control()} (when {b.trigger}) is bound twice: to {seen[key]} and to {b.action}")
            seen[key] = b.action
        return self


def describe_control(kind: str, number: int, channel: int | None) -> str:
    return f"{kind} {number}" + (f" ch {channel}" if channel is not None else "")


def with_binding(cmap: ControllerMap, binding: Binding) -> ControllerMap:
    """``cmap`` where ``binding``'s control does only ``binding``'s action (learn mode).

    Bindings of the same note or CC on the same channel, or on any channel, are dropped: the control
    that was pressed now does this and nothing else.
    """
    def same(b: Binding) -> bool:
        return b.kind == binding.kind and b.number == binding.number and b.channel in (None, binding.channel)

    return cmap.model_copy(update={"bindings": (*[b for b in cmap.bindings if not same(b)], binding)})


# --- incoming controls -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Control:
    """One note-on or CC from the controller; ``channel`` is 1-16."""

    kind: Literal["note", "cc"]
    number: int
    channel: int
    value: int

    def describe(self) -> str:
        """``note 36 ch 10``: as a learn result names it."""
        return describe_control(self.kind, self.number, self.channel)

    @property
    def label(self) -> str:
        """``pad 36`` / ``CC 70``: as a log line names it."""
        return f"pad {self.number}" if self.kind == "note" else f"CC {self.number}"


def decode(message: list[int] | tuple[int, ...]) -> Control | None:
    """A note-on (velocity above 0) or a CC as a Control; anything else None."""
    if len(message) != 3:
        return None
    status, number, value = message
    kind = {0x90: "note", 0xB0: "cc"}.get(status & 0xF0)
    if kind is None or (kind == "note" and value == 0):  # note-on at velocity 0 is a note-off
        return None
    return Control(kind, number, (status & 0x0F) + 1, value)  # type: ignore[arg-type]


TRIGGERS: dict[When, Callable[[int, int | None], bool]] = {
    "on": lambda value, previous: value > 0,
    "off": lambda value, previous: value == 0,
    "up": lambda value, previous: previous is not None and value > previous,
    "down": lambda value, previous: previous is not None and value < previous,
    "any": lambda value, previous: True,
}
"""When a CC binding fires, given the CC's value and the value it sent before (None: first message)."""


class Bindings:
    """A map's bindings indexed by control; a binding on the control's channel beats an any-channel one."""

    def __init__(self, cmap: ControllerMap) -> None:
        self._index: dict[tuple[str, int, int | None], list[Binding]] = {}
        for b in cmap.bindings:
            self._index.setdefault((b.kind, b.number, b.channel), []).append(b)

    def match(self, control: Control, previous: int | None) -> list[Binding]:
        candidates = self._index.get((control.kind, control.number, control.channel)) or self._index.get(
            (control.kind, control.number, None), []
        )
        return [b for b in candidates if TRIGGERS[b.trigger](control.value, previous)]


# --- A/B: the versions a part switches between ------------------------------------------------


# --- where maps live -------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def shipped_dir() -> Path:
    return CONFIG_DIR / "controllers"


def user_dir() -> Path:
    """The user's maps; read at call time so XDG_CONFIG_HOME (and tests) take effect."""
    return Path(platformdirs.user_config_dir("backbeat")) / "controllers"


def user_path(name: str) -> Path:
    """Where the user's copy of map ``name`` is (or will be) written."""
    return user_dir() / f"{_checked(name)}.toml"


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name) or name.endswith(".toml"):
        raise ControllerMapError(f"bad controller map name {name!r}: use the file name without .toml, e.g. generic-pads")
    return name


def find_map(name: str) -> Path:
    """The user's map ``name`` if there is one, else the shipped one.

    Raises:
        ControllerMapError: neither exists (the message lists the maps that do).
    """
    _checked(name)
    for folder in (user_dir(), shipped_dir()):
        path = folder / f"{name}.toml"
        if path.is_file():
            return path
    names = sorted({p.stem for folder in (user_dir(), shipped_dir()) if folder.is_dir() for p in folder.glob("*.toml")})
    raise ControllerMapError(f"no controller map named {name!r} in {user_dir()} or {shipped_dir()}; maps: {', '.join(names) or 'none'}")


def read_map(path: Path) -> ControllerMap:
    """Parse and validate one map file.

    Raises:
        ControllerMapError: with the file and the first problem, in one line.
    """
    try:
        data = tomllib.loads(read_limited(path, CONFIG_FILE_LIMIT).decode("utf-8"))
    except (OSError, UnicodeDecodeError, FileTooLargeError) as e:
        raise ControllerMapError(f"cannot read controller map {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ControllerMapError(f"controller map {path} is not valid TOML: {e}") from None
    try:
        return ControllerMap.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "map"
        raise ControllerMapError(f"controller map {path}: {where}: {first['msg']}") from None


def load_map(name: str) -> tuple[ControllerMap, Path]:
    """Map ``name`` and the file it came from (the user's copy first)."""
    path = find_map(name)
    return read_map(path), path


def save_user_map(name: str, cmap: ControllerMap) -> Path:
    """Write ``cmap`` as the user's copy of map ``name``, atomically; returns the path."""
    path = user_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, dumps(cmap, name).encode("utf-8"))
    return path


# --- writing TOML ------------------------------------------------------------------------------------


def _string(value: str) -> str:
    # A JSON string is a valid TOML basic string: the escapes JSON uses are a subset of TOML's.
    return json.dumps(value, ensure_ascii=False)


def _binding_line(b: Binding) -> str:
    fields = [("note", b.note), ("cc", b.cc), ("channel", b.channel)]
    parts = [f"{k} = {v}" for k, v in fields if v is not None]
    parts.append(f"action = {_string(b.action)}")
    if b.when is not None:
        parts.append(f"when = {_string(b.when)}")
    return "  { " + ", ".join(parts) + " },"


def dumps(cmap: ControllerMap, name: str) -> str:
    """``cmap`` as TOML that ``read_map`` reads back to an equal map."""
    lines = [
        f"# backbeat controller map {name!r}: your copy, written by learn mode (a `learn` request, e.g. from the TUI).",
        "# Edit freely; learning rewrites this file without comments. Actions and `when` are documented in",
        f"# docs/CONTROLLERS.md and in the shipped maps ({shipped_dir()}). Delete this file to go back to the shipped map.",
        "",
        f"name = {_string(cmap.name)}",
        f"description = {_string(cmap.description)}",
        f"port = {_string(cmap.port)}",
        "",
        "bindings = [",
        *(_binding_line(b) for b in cmap.bindings),
        "]",
        "",
    ]
    return "\n".join(lines)
