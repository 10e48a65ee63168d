"""Changing a session folder: refine, alternatives, choose, undo and revert, each one history entry.

A change keeps what it replaced as ``history/NNN.json`` (the entry's ``snapshot``): the song's
fields it changed and the tracks of the parts it touched, as they were — not the whole song — so
a folder grows by about the size of what changed. Going back walks the entries from the latest
down, putting back what each replaced: the song as it was after any entry comes back exactly, and
undo and revert are entries themselves. Only the last ``undo_depth`` entries keep their files
(older ones stay listed, without one). A snapshot written by an older backbeat holds the whole
song; the walk takes it as it is. A change rewrites only the files whose bytes differ, and its
history entry lists exactly those files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import alternatives, refine, session
from .edits import with_history
from .errors import BadRequestError
from .files import atomic_write, read_limited
from .model import HistoryEntry, Part, SongState
from .reading import COMMANDS, Reading
from .requests import Change, Question
from .requests import read as read_request

HISTORY = "history"


@dataclass(frozen=True, slots=True)
class Revision:
    """What a change did: the new song, one line per effect, and the files rewritten."""

    song: SongState
    notes: tuple[str, ...]
    files: tuple[str, ...]
    regenerated: tuple[str, ...] = ()
    structure: bool = False
    reading: Reading | None = None
    """What the request was read as (for the reply: corrections and changes)."""


UNTRACKED = frozenset({"history", "alternatives", "tracks"})
"""Fields of the song an entry does not keep whole: the history (the entries themselves), the
alternatives (kept as they are now by undo and revert) and the tracks (kept part by part)."""


def replaced(before: SongState, after: SongState) -> dict[str, Any]:
    """What a change from ``before`` to ``after`` replaced, to put back (as JSON): the song's other
    fields that differ, the tracks of the parts whose track differs (None: the part was not there),
    and the order of the parts. Only what differs is serialized: a song is large, a change small."""
    names = [n for n in SongState.model_fields if n not in UNTRACKED and getattr(before, n) != getattr(after, n)]
    old = {t.part: t for t in before.tracks}
    new = {t.part: t for t in after.tracks}
    parts = sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))
    return {
        "undo": 1,
        "fields": before.model_dump(mode="json", include=set(names)) if names else {},
        "tracks": {p: None if p not in old else old[p].model_dump(mode="json") for p in parts},
        "order": list(old),
    }


def _snapshot(folder: Path, before: SongState, after: SongState) -> str:
    (folder / HISTORY).mkdir(exist_ok=True)
    path = f"{HISTORY}/{len(before.history) + 1:03d}.json"
    atomic_write(folder / path, json.dumps(replaced(before, after), separators=(",", ":")).encode())
    return path


def step_back(folder: Path, song: dict[str, Any], snapshot: str) -> dict[str, Any]:
    """``song`` (as JSON) with what the entry of ``snapshot`` replaced put back (an older
    backbeat's snapshot: the song it holds).

    Raises:
        BadRequestError: the file cannot be read.
    """
    try:
        data = json.loads(read_limited(folder / snapshot, session.SESSION_FILE_LIMIT))
        if "undo" not in data:
            return data
        tracks = {**{t["part"]: t for t in song["tracks"]}, **data["tracks"]}
        return {**song, **data["fields"], "tracks": [tracks[p] for p in data["order"] if tracks.get(p) is not None]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BadRequestError(f"the snapshot {snapshot} cannot be read: {e}") from e


def _prune(folder: Path, history: list[HistoryEntry], depth: int) -> tuple[list[HistoryEntry], list[str]]:
    """The history with only the last ``depth`` entries keeping their snapshot; the files let go."""
    cut = len(history) - depth
    dropped = [e.snapshot for e in history[:max(cut, 0)] if e.snapshot is not None]
    if not dropped:
        return history, []
    return [e.model_copy(update={"snapshot": None}) if i < cut else e for i, e in enumerate(history)], dropped


def changed_files(folder: Path, song: SongState) -> dict[str, bytes]:
    """The session files (song-state.json aside) whose bytes ``song`` changes, with the new bytes."""
    changed = {}
    for path, file in session.files_of(song).items():
        if path == session.STATE:
            continue
        data, target = file.build(song), folder / path
        if not target.exists() or target.read_bytes() != data:
            changed[path] = data
    return changed


def commit(folder: Path, before: SongState, after: SongState, action: str, request: str, targets: list[str],
           depth: int | None = None) -> tuple[SongState, list[str]]:
    """Write ``after`` (a change of ``before``) into ``folder`` with its history entry; entries
    beyond the last ``depth`` (the ``undo_depth`` setting) let go of their snapshots."""
    if depth is None:
        from .settings import settings

        depth = settings().undo_depth
    session.clean(folder)
    snapshot = _snapshot(folder, before, after)
    built = changed_files(folder, after)  # none of these depends on the history
    files = [session.STATE, *built]
    song = with_history(after, action, request, targets, files, snapshot)
    history, dropped = _prune(folder, song.history, depth)
    song = song.model_copy(update={"history": history})
    stages = session.load_manifest(folder).stage_timings
    session.write(folder, song, stages, only=set(files), built=built)
    for path in dropped:  # after the state no longer names them: a crash leaves a stray file, never a missing one
        (folder / path).unlink(missing_ok=True)
    return song, files


@dataclass(frozen=True, slots=True)
class Proposal:
    """A change worked out on a song, not written anywhere yet."""

    song: SongState
    action: str
    targets: list[str]
    notes: tuple[str, ...]
    regenerated: tuple[str, ...] = ()
    structure: bool = False


def revise(song: SongState, text: str, changes: Reading | list[Change] | Question | None = None) -> Proposal | Question:
    """What the request ``text`` makes of ``song`` (no files touched), or a question back;
    ``changes`` when they were read already (a Reading, or a model's changes: ``generators.llm.refining``).
    Changes apply in order: "something different" and a chosen alternative take their turn among
    the others.

    Raises:
        BadRequestError: the request cannot be applied (one line saying why); nothing changed.
    """
    changes = read_request(text, song) if changes is None else changes
    if isinstance(changes, Reading):
        if changes.problem:
            raise BadRequestError(changes.problem)
        if changes.question or not changes.changes:
            return Question(changes.question or "What should change?", changes.understood)
        changes = list(changes.changes)
    if isinstance(changes, Question):
        return changes
    history = [c.kind for c in changes if c.kind in COMMANDS]
    if history:
        raise BadRequestError(f"{history[0]} is a command of its own (backbeat refine --session DIR --{'undo' if history[0] != 'revert' else 'revert 0'})")
    kept = [c for c in changes if c.kind == "keep"]  # "keep the drums" holds for the whole request
    changes = [c for c in changes if c.kind != "keep"]
    if not changes:
        raise BadRequestError(f"the {' and '.join(c.part or '' for c in kept)} stay as they are; say what should change")
    for c in changes:
        if c.kind in ("alternative", "choose") and c.part in {k.part for k in kept}:
            raise BadRequestError(f"the {c.part} cannot stay as it is and change too")
    current, notes, regenerated, targets = song, [], [], set()
    batch: list[Change] = []
    structure = False

    def flush() -> None:
        nonlocal current, structure
        if not batch:
            return
        outcome = refine.apply(current, [*kept, *batch])
        current = outcome.song
        notes.extend(outcome.notes)
        regenerated.extend(p for p in outcome.regenerated if p not in regenerated)
        targets.update(outcome.regenerated, outcome.dimensions)
        structure = structure or outcome.structure
        batch.clear()

    for c in changes:
        if c.kind not in ("alternative", "choose"):
            batch.append(c)
            continue
        flush()
        part: Part = c.part  # type: ignore[assignment]
        if c.kind == "alternative":
            current, pick = alternatives.something_different(current, part)
        else:
            current = alternatives.choose(current, part, c.target or "")
            pick = next(a for a in current.alternatives[part] if a.label == (c.target or "").upper())
        notes.append(f"{part}: {pick.description}")
        regenerated.append(part) if part not in regenerated else None
        targets.add(part)
    flush()
    only_alternatives = all(c.kind in ("alternative", "choose") for c in changes)
    return Proposal(current, "choose" if only_alternatives else "refine", sorted(targets) or [c.part or c.kind for c in changes],
                    tuple(notes), tuple(regenerated), structure)


def refine_folder(folder: Path, text: str, read: Callable[[str, SongState], list[Change] | Question] | None = None) -> Revision | Question:
    """Apply ``text`` to the session in ``folder``: a Revision, or a Question (nothing changed).
    ``read`` turns a request the grammar does not understand into changes (a model's reading);
    "undo", "redo" and "revert to the original" work on the history."""
    song = session.load_song(folder)
    reading = read_request(text, song)
    if len(reading.changes) == 1 and reading.changes[0].kind in COMMANDS:
        return HISTORY_COMMANDS[reading.changes[0].kind](folder)
    changes = read(text, song) if read is not None and not reading.understood else reading
    proposal = revise(song, text, changes)
    if isinstance(proposal, Question):
        return proposal
    new, files = commit(folder, song, proposal.song, proposal.action, text, proposal.targets)
    return Revision(new, proposal.notes, tuple(files), proposal.regenerated, proposal.structure, reading)


def make_alternatives(folder: Path, part: Part, n: int = 3) -> Revision:
    song = session.load_song(folder)
    made = alternatives.make(song, part, n)
    new, files = commit(folder, song, alternatives.with_alternatives(song, part, made), "alternatives", f"alternatives {part} -n {n}", [part])
    return Revision(new, tuple(f"{a.label} ({a.score:.2f}): {a.description}" for a in made), tuple(files))


def choose_alternative(folder: Path, part: Part, label: str) -> Revision:
    song = session.load_song(folder)
    new, files = commit(folder, song, alternatives.choose(song, part, label), "choose", f"choose {part} {label}", [part])
    pick = next(a for a in new.alternatives[part] if a.label == label.strip().upper())
    return Revision(new, (pick.description,), tuple(files), (part,))


def revert(folder: Path, entry: int) -> Revision:
    """The song as it was right after history entry ``entry`` (1-based; 0: as first generated).

    History only grows: the revert is itself an entry, so it can be undone too.
    """
    song = session.load_song(folder)
    count = len(song.history)
    if not 0 <= entry < count:
        raise BadRequestError(f"the history has {count} entries: revert to 0-{count - 1} (0: as generated)")
    target = song_after(folder, song, entry).model_copy(update={"history": song.history, "alternatives": song.alternatives})
    new, files = commit(folder, song, target, "revert", f"revert to entry {entry}", ["song"])
    return Revision(new, (f"back to the song as it was after entry {entry}",), tuple(files), structure=True)


def song_after(folder: Path, song: SongState, entry: int) -> SongState:
    """The song as it was right after history entry ``entry`` (0: as first generated): ``song`` with
    what each later entry replaced put back, latest first.

    Raises:
        BadRequestError: an entry on the way kept nothing (beyond ``undo_depth``), or the rebuilt
            song does not validate.
    """
    data = song.model_dump(mode="json")
    for index in range(len(song.history) - 1, entry - 1, -1):
        later = song.history[index]
        if later.snapshot is None:
            raise BadRequestError(f"entry {index + 1} ({later.action}) kept nothing to go back with: only the last changes can be undone (undo_depth)")
        data = step_back(folder, data, later.snapshot)
    try:
        return SongState.model_validate(data)
    except ValidationError as e:
        raise BadRequestError(f"the history cannot rebuild the song of entry {entry}: {e.errors()[0]['msg']}") from e


def undo_stacks(song: SongState) -> tuple[list[int], list[int]]:
    """(the entries an undo can take back, last on top; the entries a redo can bring back, next on
    top), as 1-based entry numbers, from the history as it stands.

    Replayed from the start: a change (a refine, a revert, ...) is pushed on the undo stack and
    empties the redo stack; an "undo" entry moves the top of the undo stack onto the redo stack and
    a "redo" entry moves it back. So each undo steps back one more change, and each redo forward one.
    """
    done: list[int] = []
    undone: list[int] = []
    for number, entry in enumerate(song.history, start=1):
        if entry.action == "undo" and done:
            undone.append(done.pop())
        elif entry.action == "redo" and undone:
            done.append(undone.pop())
        else:
            done.append(number)
            undone.clear()
    return done, undone


def _step(folder: Path, song: SongState, action: str, entry: int, after: int) -> Revision:
    """Put back the song as it was right after entry ``after`` (1-based; 0: as generated), recorded
    as the ``action`` ("undo" or "redo") of entry ``entry``."""
    old = song_after(folder, song, after)
    target = old.model_copy(update={"history": song.history, "alternatives": song.alternatives})
    done = song.history[entry - 1]
    new, files = commit(folder, song, target, action, f"{action} entry {entry} ({done.action} {done.request})", ["song"])
    verb = "undid" if action == "undo" else "redid"
    return Revision(new, (f"{verb} entry {entry}: {done.action} {done.request}",), tuple(files), structure=True)


def undo(folder: Path) -> Revision:
    """Take back the last change not yet undone: each undo steps back one more entry."""
    song = session.load_song(folder)
    done, _ = undo_stacks(song)
    if not done:
        raise BadRequestError("nothing to undo")
    entry = done[-1]
    return _step(folder, song, "undo", entry, entry - 1)  # the song before it


def redo(folder: Path) -> Revision:
    """Bring back the last change undone: each redo steps forward one entry."""
    song = session.load_song(folder)
    _, undone = undo_stacks(song)
    if not undone:
        raise BadRequestError("nothing to redo: no change has been undone since the last change")
    entry = undone[-1]
    return _step(folder, song, "redo", entry, entry)  # the song right after it


HISTORY_COMMANDS: dict[str, Callable[[Path], Revision]] = {"undo": undo, "redo": redo, "revert": lambda folder: revert(folder, 0)}
"""The history commands a request can be: "undo", "redo", "revert to the original"."""
