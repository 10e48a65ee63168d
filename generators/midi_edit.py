"""Editing Standard MIDI Files: hex text to bytes (the LLM's hex part format), merge part files
into one Format 1 file, split a file into one Format 0 file per playing track."""

from __future__ import annotations

import io
import re

import mido

from backbeat.engine.time import PPQ

from .errors import BadRequestError, MidiDataError
from .midi import ascii_text
from .midi_inspect import Timed, absolute, plays, read, track_name

CONDUCTOR = frozenset({"set_tempo", "time_signature", "key_signature", "marker"})
"""Meta events that belong to the whole song (track 0 of a Format 1 file)."""
NOT_COPIED = CONDUCTOR | {"track_name", "end_of_track"}
"""Events a part track does not take over when files are merged or split (it gets them anew)."""


def _mido_name(text: str) -> Timed:
    return (0, mido.MetaMessage("track_name", name=ascii_text(text)))


def _track(events: list[Timed], end: int) -> mido.MidiTrack:
    """A track of ``events`` (in order) with delta times, ending at ``end`` or its last event."""
    track, now = mido.MidiTrack(), 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(end - now, 0)))
    return track


def _save(fmt: int, tracks: list[mido.MidiTrack], ticks_per_beat: int = PPQ) -> bytes:
    midi = mido.MidiFile(type=fmt, ticks_per_beat=ticks_per_beat)
    midi.tracks.extend(tracks)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def hex_to_midi(text: str) -> bytes:
    """The bytes of a MIDI file written as hex digits (spaces, newlines, commas, ``0x`` allowed).

    Raises:
        MidiDataError: non-hex characters (position counted from 1), an odd number of digits, or
            bytes that are not a MIDI file.
    """
    # Blank out separators and 0x prefixes character for character, so positions stay true.
    blank = re.sub(r"[\s,]", " ", re.sub(r"(?<![^\s,])0[xX]", "  ", text))
    bad = list(re.finditer(r"[^0-9a-fA-F ]", blank))
    if bad:
        plural = "s" if len(bad) > 1 else ""
        raise MidiDataError(f"hex string has {len(bad)} non-hex character{plural}, "
                            f"first {bad[0].group()!r} at position {bad[0].start() + 1}")
    digits = blank.replace(" ", "")
    if not digits:
        raise MidiDataError("hex string is empty")
    if len(digits) % 2:
        raise MidiDataError(f"hex string has an odd number of digits ({len(digits)})")
    data = bytes.fromhex(digits)
    read(data)
    return data


# --- merge and split ------------------------------------------------------------------------------


def _copied(msg: mido.Message | mido.MetaMessage) -> bool:
    """Whether a part track takes ``msg`` over; mido reads system real-time and common messages
    (clock, tune request...) inside tracks, but (rightly) refuses to write them."""
    return msg.type not in NOT_COPIED and not msg.is_realtime


def _conductor_of(sources: list[list[Timed]]) -> list[Timed]:
    """The conductor metas of ``sources`` by tick; the first for a (tick, kind[, text]) wins."""
    kept: dict[tuple, tuple[int, int, mido.MetaMessage]] = {}
    for order, events in enumerate(sources):
        for tick, msg in events:
            if msg.type in CONDUCTOR:
                key = (tick, msg.type, msg.text if msg.type == "marker" else "")
                kept.setdefault(key, (tick, order, msg))
    return [(tick, msg) for tick, _, msg in sorted(kept.values(), key=lambda e: e[:2])]


def merge(files: list[tuple[str, bytes]]) -> bytes:
    """Part files, (name, bytes) each, as one Format 1 file at 480 PPQ.

    Track 0 holds the tempo, meter, key and marker events of all files (the first file wins where
    two disagree at a tick); then comes one track per input track that plays, named ``name`` (or
    the input track's own name when a file has several playing tracks).
    """
    if not files:
        raise BadRequestError("merge needs at least one MIDI file")
    sources: list[list[Timed]] = []  # every track of every file, at 480 PPQ
    parts: list[list[Timed]] = []
    for name, data in files:
        midi = read(data)
        playing = [i for i, track in enumerate(midi.tracks) if plays(track)]
        for i, track in enumerate(midi.tracks):
            events = [(_rescale(t, midi.ticks_per_beat), msg) for t, msg in absolute(track)]
            sources.append(events)
            if i in playing:
                title = name if len(playing) == 1 else track_name(track) or f"{name} {i}"
                kept = [(t, m) for t, m in events if _copied(m)]
                parts.append([_mido_name(title), *kept])
    if not parts:
        raise MidiDataError("none of the files has a track with notes or other channel messages")
    head = [_mido_name("tempo map"), *_conductor_of(sources)]
    end = max((events[-1][0] for events in sources if events), default=0)
    return _save(1, [_track(events, end) for events in (head, *parts)])


def _rescale(tick: int, ticks_per_beat: int) -> int:
    """``tick`` at ``ticks_per_beat`` as a tick at 480 PPQ, rounded half up."""
    return (2 * tick * PPQ + ticks_per_beat) // (2 * ticks_per_beat)


def split(data: bytes) -> list[tuple[str, bytes]]:
    """Every playing track of a Format 0/1 file as a Format 0 file with the song's conductor metas.

    Names are the tracks' names made safe for file names (lower case, ``-`` for anything odd) and
    unique (``-2``, ``-3``...); an unnamed track is ``track-N``. Ticks per beat are kept.
    """
    midi = read(data)
    if midi.type == 2:
        raise MidiDataError("cannot split a format 2 file: its tracks are independent patterns")
    conductor = _conductor_of([list(absolute(track)) for track in midi.tracks])
    end = max((sum(msg.time for msg in track) for track in midi.tracks), default=0)
    out: list[tuple[str, bytes]] = []
    used: set[str] = set()
    for i, track in enumerate(midi.tracks):
        if not plays(track):
            continue
        stem = _unique_stem(track_name(track), f"track-{i}", used)
        body = [(t, m) for t, m in absolute(track) if _copied(m)]
        head = [_mido_name(track_name(track) or stem), *conductor]
        events = sorted([*head, *body], key=lambda e: e[0])  # stable: at one tick, metas first
        out.append((stem, _save(0, [_track(events, end)], midi.ticks_per_beat)))
    return out


def _unique_stem(name: str, fallback: str, used: set[str]) -> str:
    """``name`` as a file name stem not in ``used`` (which it joins)."""
    stem = re.sub(r"[^a-z0-9._]+", "-", ascii_text(name).lower()).strip("-.") or fallback
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}"
    used.add(candidate)
    return candidate
