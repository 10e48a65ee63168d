"""The session folder (DESIGN.md §5, seed task 6.4): every file a producer drags into MPC Beats.

A new session is built in a hidden ``.session-ID.partial`` folder (with a checkpoint after every
stage, so an interrupted run can resume) and renamed to ``session-ID`` only when every file is in
place: a session folder is never half-written. Every file is written atomically.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from . import midi, notes
from .errors import BadRequestError, SessionError
from .files import atomic_write, clean_leftovers, read_limited
from .mpc import mpc_key
from .model import Chord, FileEntry, Progression, SessionManifest, SongState, StageRecord
from .palette import palette
from .theory import pitch_class
from .tables import tables

STATE = "song-state.json"
MANIFEST = "manifest.json"
CHECKPOINT = "checkpoint.json"
PROGRESSION_DIR = "progression"
FULL = "midi/full-arrangement.mid"
NOTES = ("preset-assignments", "effect-chains", "arrangement-map", "drum-pads", "producer-notes")
PARTIAL_SUFFIX = ".partial"
SESSION_FILE_LIMIT = 64 << 20
"""Bytes of a session's JSON file read (song-state, manifest, checkpoint, history): a 1,024-bar
song's state is about 8 MiB; anything far beyond is not one of ours."""
SUBFOLDERS = ("progression", "midi", "notes", "history")


def new_session_id(now: datetime | None = None) -> str:
    now = now or datetime.now()
    return f"session-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def partial_path(output_dir: Path, session_id: str) -> Path:
    return output_dir / f".{session_id}{PARTIAL_SUFFIX}"


def final_path(partial: Path) -> Path:
    name = partial.name
    if not (name.startswith(".") and name.endswith(PARTIAL_SUFFIX)):
        raise SessionError(f"{partial} is not an unfinished session folder")
    return partial.with_name(name[1 : -len(PARTIAL_SUFFIX)])


def check_writable(output_dir: Path) -> None:
    """Make sure session folders can be made in ``output_dir`` (creating it), before a song is composed.

    Raises:
        SessionError: they cannot (one line: the folder, why, and the fix).
    """
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / f".backbeat-probe-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
    except OSError as e:
        raise SessionError(f"cannot write session folders in {output_dir}: {e.strerror or e} "
                           "(set OUTPUT_DIR, output_dir in settings.toml, or --out to a folder you can write)") from e


def begin(output_dir: Path, session_id: str) -> Path:
    """Create the hidden working folder of a new session.

    Raises:
        SessionError: the output folder cannot be created or written.
    """
    folder = partial_path(output_dir, session_id)
    try:
        folder.mkdir(parents=True, exist_ok=False)
    except OSError as e:
        raise SessionError(f"cannot create a session in {output_dir}: {e.strerror or e}") from e
    return folder


def write_checkpoint(folder: Path, data: bytes) -> None:
    atomic_write(folder / CHECKPOINT, data)


def read_checkpoint(folder: Path) -> bytes:
    path = folder / CHECKPOINT
    try:
        return read_limited(path, SESSION_FILE_LIMIT)
    except FileNotFoundError as e:
        if (folder / STATE).exists():
            raise BadRequestError(f"{folder} is a finished session; nothing to resume") from e
        raise BadRequestError(f"{folder} has no {CHECKPOINT}: not a resumable session") from e
    except OSError as e:
        raise SessionError(f"cannot read {path}: {e.strerror or e}") from e


# --- MPC Beats progression ---------------------------------------------------------------------------


def _title(song: SongState, limit: int = 40) -> str:
    """The prompt's first words, at most ``limit`` characters, hyphens as spaces."""
    words = song.intent.prompt.replace("-", " ").split()
    title = ""
    for word in words:
        if len(title) + len(word) + 1 > limit:
            break
        title = f"{title} {word}".strip()
    return title or words[0][:limit]


def _short_id(song: SongState) -> str:
    return song.session_id.rsplit("-", 1)[-1]


def progression_name(song: SongState) -> str:
    """The name MPC Beats lists. MPC splits it at the first hyphen into the menu heading
    ("backbeat") and the entry: the song's title, its key and the session's short id."""
    key = song.progression.key
    return f"backbeat-{_title(song)}, {mpc_key(key.root)} {key.mode}, {_short_id(song)}"


def progression_path(song: SongState) -> str:
    """``progression/<title>-<session time and id>.progression``: a name of its own per session, so
    two sessions' files can sit side by side in MPC Beats' Progressions folder."""
    stem = re.sub(r"[^a-z0-9]+", "-", unicodedata.normalize("NFKD", _title(song, 32)).encode("ascii", "ignore").decode().lower()).strip("-")
    return f"{PROGRESSION_DIR}/{stem or 'song'}-{song.session_id.removeprefix('session-')}.progression"


def root_index(chords: list[Chord], tonic: str) -> int:
    """The chord MPC's "Root" role goes to: the first whose root is the key's tonic (in root position
    if one is), else the first."""
    pc = pitch_class(tonic)
    on_tonic = [i for i, c in enumerate(chords) if pitch_class(c.root) == pc]
    plain = [i for i in on_tonic if chords[i].bass is None]
    return (plain or on_tonic or [0])[0]


def progression_file(progression: Progression, name: str) -> bytes:
    """The song's ``.progression`` as MPC Beats 2.9 ships them (DESIGN.md §5): the Pad Perform
    palette (the song's chords, then neighbours; ``generators.palette``), key in MPC's spelling."""
    scale = tables().theory.scales[progression.key.mode]
    chords = palette(progression)
    root = root_index(chords, progression.key.root)
    body = {
        "progression": {
            "name": name,
            "rootNote": mpc_key(progression.key.root),
            "scale": scale.mpc,
            "recordingOctave": 2,
            "chords": [
                {"name": c.symbol, "role": "Root" if i == root else "Normal", "notes": list(c.notes)}
                for i, c in enumerate(chords)
            ],
        }
    }
    return (json.dumps(body, indent=2) + "\n").encode()


# --- the folder --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionFile:
    """One file of the session folder: its type and description (for the manifest) and its bytes."""

    type: str
    description: str
    build: Callable[[SongState], bytes]


def _notes(render: Callable[..., str]) -> Callable[[SongState], bytes]:
    return lambda song: render(song).encode()


def files_of(song: SongState) -> dict[str, SessionFile]:
    """Every file of ``song``'s session folder, the manifest excepted, built only when asked."""
    name = progression_name(song)
    files: dict[str, SessionFile] = {
        STATE: SessionFile("state", "the whole song as JSON (SongState)", lambda s: s.model_dump_json(indent=2).encode()),
        progression_path(song): SessionFile("progression", f"MPC Beats chord progression '{name}'", lambda s: progression_file(s.progression, progression_name(s))),
    }
    for track in song.tracks:
        files[f"midi/{track.part}.mid"] = SessionFile(
            "midi", f"{track.name}, MIDI channel {track.channel}", lambda s, part=track.part: midi.part_file(s, part)
        )
    files[FULL] = SessionFile("midi", "every part in one Format 1 file, tempo map on track 0", midi.arrangement_file)
    renderers = {
        "preset-assignments": notes.preset_assignments,
        "effect-chains": notes.effect_chains,
        "arrangement-map": notes.arrangement_map,
        "drum-pads": notes.drum_pads,
        "producer-notes": lambda s: notes.producer_notes(s, progression_name(s), progression_path(s)),
    }
    for key in NOTES:
        files[f"notes/{key}.md"] = SessionFile("notes", key.replace("-", " "), _notes(renderers[key]))
    return files


def write(
    folder: Path, song: SongState, stages: list[StageRecord], *,
    created_at: str | None = None, only: set[str] | None = None, built: dict[str, bytes] | None = None,
) -> SessionManifest:
    """Write the session's files into ``folder`` (all of them, or just the paths in ``only``) and the
    manifest. Files whose bytes are unchanged are not rewritten, so a change touches only what it must.
    ``built`` holds bytes already built for some paths (they are not built again).
    """
    files = files_of(song)
    built = built or {}
    for sub in SUBFOLDERS[:3]:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for path, file in files.items():
        if only is not None and path not in only:
            continue
        data = built[path] if path in built else file.build(song)
        target = folder / path
        if not (target.exists() and target.read_bytes() == data):
            atomic_write(target, data)
    if created_at is None and (folder / MANIFEST).exists():
        created_at = load_manifest(folder).created_at  # a session keeps its birth date
    manifest = SessionManifest(
        session_id=song.session_id,
        created_at=created_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        prompt=song.intent.prompt,
        genre=song.intent.genre.primary,
        key=song.progression.key.label(),
        tempo=song.bpm,
        files=[FileEntry(path=p, type=f.type, description=f.description) for p, f in files.items()],
        stage_timings=stages,
    )
    data = manifest.model_dump_json(indent=2).encode()
    if not ((folder / MANIFEST).exists() and (folder / MANIFEST).read_bytes() == data):
        atomic_write(folder / MANIFEST, data)
    return manifest


def finish(partial: Path) -> Path:
    """Drop the checkpoint and give the finished folder its real name."""
    final = final_path(partial)
    try:
        (partial / CHECKPOINT).unlink(missing_ok=True)
        os.replace(partial, final)
    except OSError as e:
        raise SessionError(f"cannot finish session {final}: {e.strerror or e}") from e
    return final


def clean(folder: Path) -> list[Path]:
    """Remove what writes killed midway left in a session folder (their temporary files); the
    ones removed. Done when a folder is opened to be changed."""
    return clean_leftovers(Path(folder), SUBFOLDERS)


def load_song(folder: Path) -> SongState:
    """The ``SongState`` of a session folder.

    Raises:
        BadRequestError: no session there, or its song-state.json is not valid.
    """
    path = Path(folder) / STATE
    try:
        return SongState.model_validate_json(read_limited(path, SESSION_FILE_LIMIT))
    except FileNotFoundError as e:
        raise BadRequestError(f"{folder} is not a session folder (no {STATE})") from e
    except OSError as e:
        raise SessionError(f"cannot read {path}: {e.strerror or e}") from e
    except ValidationError as e:
        raise BadRequestError(f"{path} is not a valid song state: {e.errors()[0]['msg']}") from e


def load_manifest(folder: Path) -> SessionManifest:
    path = Path(folder) / MANIFEST
    try:
        return SessionManifest.model_validate_json(read_limited(path, SESSION_FILE_LIMIT))
    except (OSError, ValidationError) as e:
        raise BadRequestError(f"{path} is missing or invalid") from e
