"""Drum maps: which note each drum role plays on a given kit (``config/drum_maps/*.toml``).

The drum generator writes *roles*: a song's drum notes are General MIDI percussion numbers (36 kick,
38 snare, 42 closed hi-hat ...), and ``song-state.json`` keeps them so. A map turns each role into the
note a kit answers to: ``gm`` leaves them as they are, ``mpc-legacy`` puts them on the pads of MPC
factory kits, ``mpc-chromatic`` on drum programs made since MPC 2.11. ``note_table`` is the one place
where that happens, for files (``generators.midi``) and for live playback alike (the engine applies the
same table per output port, ``engine.notemap``).

A map file holds ``[roles.NAME]`` rows (note, pad where the kit has pads, the sound, a source) and,
for a pad kit, ``[pads]``: the note of every pad, which each row must agree with. Every role of
``gm.toml`` must be in every map. A user's ``drum_maps/NAME.toml`` in the config folder adds a map or
replaces a shipped one, and must pass the same checks.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from .errors import BadRequestError, ConfigError, FileTooLargeError
from .files import CONFIG_FILE_LIMIT, read_limited
from .settings import CONFIG_DIR, USER_CONFIG_DIR
from .table_models import Table
from .tables import _validate, tables

FOLDER = "drum_maps"
REFERENCE = "gm"
"""The map whose notes are the roles themselves: what song-state.json holds."""
DEFAULT = "gm"
DRUM_CHANNEL = 10
MidiNote = Annotated[int, Field(ge=0, le=127)]


class RoleRow(Table):
    note: MidiNote
    """The note this role is sent as."""
    pad: str = ""
    """The pad that answers to ``note`` (A01-A16), for a kit with pads."""
    sound: str
    """What the kit should have there ("kick", "Closed Hi-Hat")."""
    source: str
    """Where the note (and the pad) come from, or that it is backbeat's own choice."""


class DrumMap(Table):
    name: str
    description: str
    source: str
    pads: dict[str, MidiNote] = {}
    """Pad name -> the note it answers to, in pad order (empty: the kit has no pads)."""
    roles: dict[str, RoleRow]

    @model_validator(mode="after")
    def _rows_agree_with_pads(self) -> DrumMap:
        for role, row in self.roles.items():
            if self.pads and self.pads.get(row.pad) != row.note:
                raise ValueError(f"role {role}: pad {row.pad!r} answers to note "
                                 f"{self.pads.get(row.pad)}, not {row.note}")
            if not self.pads and row.pad:
                raise ValueError(f"role {role}: pad {row.pad!r} but the map has no [pads]")
        return self


def _files() -> dict[str, Path]:
    """Map name -> its file; a user's file of the same name wins."""
    found: dict[str, Path] = {}
    for folder in (CONFIG_DIR / FOLDER, USER_CONFIG_DIR / FOLDER):
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.toml"))})
    return found


def names() -> list[str]:
    """Every map there is, shipped and the user's, by name."""
    return sorted(_files())


@cache
def drum_map(name: str) -> DrumMap:
    """The map ``name``, read and checked once.

    Raises:
        BadRequestError: there is no map of that name.
        ConfigError: its file is unreadable or invalid, or it lacks a role of the reference map.
    """
    path = _files().get(name)
    if path is None:
        raise BadRequestError(f"unknown drum map {name!r} (choose from {', '.join(names())})")
    try:
        data = tomllib.loads(read_limited(path, CONFIG_FILE_LIMIT).decode("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, FileTooLargeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    result = _validate(DrumMap, {"": path}, data)
    if result.name != name:
        raise ConfigError(f"{path}: name {result.name!r} differs from the file name {name!r}")
    reference = result if name == REFERENCE else drum_map(REFERENCE)
    missing = sorted(set(reference.roles) - set(result.roles))
    if missing:
        raise ConfigError(f"{path}: no note for role(s) {', '.join(missing)}")
    if name == REFERENCE:
        _check_reference(path, result)
    return result


def _check_reference(path: Path, gm: DrumMap) -> None:
    """The reference map must give the generator's roles the numbers the generator writes."""
    wrong = [f"{role} is {note} in drums.toml" for role, note in tables().parts.drums.gm.items()
             if role not in gm.roles or gm.roles[role].note != note]
    notes = [row.note for row in gm.roles.values()]
    if wrong:
        raise ConfigError(f"{path}: {'; '.join(wrong)}")
    if len(set(notes)) != len(notes):
        raise ConfigError(f"{path}: two roles share a note (the reference map's notes are the roles)")


@cache
def note_table(name: str) -> tuple[int, ...]:
    """For every note 0-127 of a drum part, the note ``name`` sends instead.

    A reference (GM) note becomes its role's note in the map; a note that is no role stays as it is.
    """
    target = drum_map(name)
    table = list(range(128))
    for role, row in drum_map(REFERENCE).roles.items():
        table[row.note] = target.roles[role].note
    return tuple(table)


def port_rows(default: str, per_port: dict[str, str]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``EngineConfig.drum_notes``: each port pattern's table, then ``default``'s for every other port."""
    rows = [(pattern, note_table(name)) for pattern, name in per_port.items()]
    return (*rows, ("", note_table(default)))


def map_of_port(port: str, default: str, per_port: dict[str, str]) -> str:
    """The map port ``port``'s drum notes go through: the first pattern of ``per_port`` that its
    name contains (ignoring case), else ``default`` (the rule ``port_rows`` gives the engine)."""
    name = port.casefold()
    return next((m for pattern, m in per_port.items() if pattern.casefold() in name), default)


def remap(name: str, pitch: int) -> int:
    """The note drum role ``pitch`` (a GM number) is sent as under map ``name``."""
    return note_table(name)[pitch]


def role_of(pitch: int) -> str | None:
    """The role a GM drum note stands for, if any."""
    for role, row in drum_map(REFERENCE).roles.items():
        if row.note == pitch:
            return role
    return None


def pad_rows(name: str, pitches: set[int] | None = None) -> list[tuple[str, int, str, list[str]]]:
    """(pad or "", note, sound, GM sounds it plays) for the notes ``pitches`` use under map ``name``
    (all roles when None), in pad order, then by note."""
    target, reference = drum_map(name), drum_map(REFERENCE)
    rows: dict[int, tuple[str, int, str, list[str]]] = {}
    for role, ref in reference.roles.items():
        if pitches is not None and ref.note not in pitches:
            continue
        row = target.roles[role]
        entry = rows.setdefault(row.note, (row.pad, row.note, row.sound, []))
        entry[3].append(ref.sound)
    order = list(target.pads)
    return sorted(rows.values(), key=lambda r: (order.index(r[0]) if r[0] in order else len(order), r[1]))
