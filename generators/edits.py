"""Small edits of a finished song that need no generator: each returns a new ``SongState`` with the
change and a history entry, touching only what the change reaches."""

from __future__ import annotations

from datetime import datetime, timezone

from .model import HistoryEntry, SongState
from .sound import with_effects


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def with_history(song: SongState, action: str, request: str, targets: list[str], files: list[str]) -> SongState:
    entry = HistoryEntry(at=now_iso(), action=action, request=request, targets=targets, files=files)
    return song.model_copy(update={"history": [*song.history, entry]})


def retempo(song: SongState, bpm: float, request: str | None = None) -> SongState:
    """``song`` at ``bpm``: the tempo (now explicit) and every time-based effect value recomputed.
    Notes are in ticks, so the parts themselves do not change."""
    intent = song.intent
    tempo = intent.tempo.model_copy(update={"bpm": float(bpm), "confidence": "explicit"})
    intent = intent.model_copy(update={"tempo": tempo})
    tracks = with_effects(intent, song.tracks, bpm)
    changed = song.model_copy(update={"intent": intent, "tracks": tracks})
    files = ["song-state.json", "midi/full-arrangement.mid", *[f"midi/{t.part}.mid" for t in song.tracks], "notes/effect-chains.md", "notes/producer-notes.md"]
    return with_history(changed, "tempo", request or f"tempo {bpm:g}", ["tempo", "effects"], files)
