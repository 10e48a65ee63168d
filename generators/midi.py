"""Standard MIDI Files, bytes in and out: a song's parts as SMF; hex, read, merge, split, validate.

Written files follow what every DAW (MPC Beats included) opens without complaint: 480 PPQ, explicit
``note_off`` messages, note-offs before note-ons at the same tick, ASCII text in meta events, every
track ending at the song's end. Reading goes through mido, and every mido failure becomes one
``MidiDataError`` line. Output depends only on the input: the same song gives byte-identical files.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import mido

from backbeat.engine.time import PPQ, Meter as TimeMeter

from .drum_maps import note_table
from .errors import BadRequestError, MidiDataError
from .instruments import program
from .model import Key, Part, SongState, Track

NoteRow = tuple[int, int, int, int, int]
"""(absolute tick, duration, pitch, velocity, one-based channel) of one note in a file."""
Timed = tuple[int, mido.Message | mido.MetaMessage]
"""A message at an absolute tick (its own ``time`` is ignored until the track is built)."""

DRUM_CHANNEL = 10
NOTE_OFF_VELOCITY = 64
"""The release velocity the MIDI spec prescribes for senders that do not sense it."""
MINOR_MODES = frozenset(
    {"minor", "aeolian", "natural minor", "dorian", "phrygian", "locrian", "harmonic minor"}
)
"""Modes written with a minor key signature (config/theory.toml marks the same ones ``minor``)."""
MAJOR_SPELLING = {"D#": "Eb", "G#": "Ab", "A#": "Bb", "Fb": "E", "E#": "F", "B#": "C"}
MINOR_SPELLING = {"Db": "C#", "Gb": "F#", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
"""Roots with no key signature of their own in that gender, and the enharmonic mido accepts."""
CONDUCTOR = frozenset({"set_tempo", "time_signature", "key_signature", "marker"})
"""Meta events that belong to the whole song (track 0 of a Format 1 file)."""
NOT_COPIED = CONDUCTOR | {"track_name", "end_of_track"}
"""Events a part track does not take over when files are merged or split (it gets them anew)."""
_PUNCTUATION = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'",
                              "\u201c": '"', "\u201d": '"'})


# --- writing a song -------------------------------------------------------------------------------


def part_file(song: SongState, part: Part | str) -> bytes:
    """One part of ``song`` as a Format 0 file: name, tempo, meter, key, and the part's notes.

    Raises:
        BadRequestError: the song has no track for ``part``.
        MidiDataError: a note starts after the song's end.
    """
    try:
        track = song.track(part)  # type: ignore[arg-type]
    except KeyError:
        raise BadRequestError(f"the song has no {part!r} track") from None
    events = [_name(track.name), *_conductor(song), *_program(song, track), *_note_events(song, track)]
    return _smf(0, [_chunk(events, _grid(song)[1])])


def arrangement_file(song: SongState) -> bytes:
    """The song as Format 1: a tempo-map track with section markers, then one track per part."""
    key, (bar, end) = song.progression.key.label(), _grid(song)
    markers = [
        (start * bar, _meta(0x06, _ascii(section.name).encode("ascii")))
        for start, section in zip(song.arrangement.start_bars(), song.arrangement.sections)
    ]
    head = [_name(f"{song.intent.genre.primary} - {key}"), *_conductor(song), *markers]
    parts = [[_name(track.name), *_program(song, track), *_note_events(song, track)] for track in song.tracks]
    return _smf(1, [_chunk(events, end) for events in (head, *parts)])


def _grid(song: SongState) -> tuple[int, int]:
    """Ticks per bar, and the tick at which the song ends."""
    meter = song.arrangement.meter
    bar = TimeMeter(meter.numerator, meter.denominator).ticks_per_bar
    return bar, song.arrangement.total_bars * bar


# The song writers encode SMF bytes directly (mido builds and checks an object per message, which
# made a 64-bar arrangement take over 100 ms to write); reading, merging and splitting use mido.
Raw = tuple[int, bytes]
"""An event at an absolute tick, as the bytes that follow its delta time."""

_KEY_SHARPS = {
    "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7,
    "F": -1, "Bb": -2, "Eb": -3, "Ab": -4, "Db": -5, "Gb": -6, "Cb": -7,
}
_MINOR_SHARPS = {
    "A": 0, "E": 1, "B": 2, "F#": 3, "C#": 4, "G#": 5, "D#": 6, "A#": 7,
    "D": -1, "G": -2, "C": -3, "F": -4, "Bb": -5, "Eb": -6, "Ab": -7,
}


_SHORT = [bytes((v,)) for v in range(0x80)]


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    if value < 0x80:  # most deltas: one byte
        return _SHORT[value]
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _meta(kind: int, data: bytes) -> bytes:
    return bytes((0xFF, kind)) + _vlq(len(data)) + data


def _conductor(song: SongState) -> list[Raw]:
    meter = song.arrangement.meter
    tempo = mido.bpm2tempo(song.bpm)
    key = key_signature(song.progression.key)
    minor = key.endswith("m")
    sharps = (_MINOR_SHARPS if minor else _KEY_SHARPS)[key[:-1] if minor else key]
    return [
        (0, _meta(0x51, tempo.to_bytes(3, "big"))),
        (0, _meta(0x58, bytes((meter.numerator, meter.denominator.bit_length() - 1, 24, 8)))),
        (0, _meta(0x59, bytes((sharps & 0xFF, int(minor))))),
    ]


def key_signature(key: Key) -> str:
    """The key as mido's ``key_signature`` spells it: "Eb", "C#m" (minor-ish modes get an "m")."""
    if key.mode.lower() in MINOR_MODES:
        return MINOR_SPELLING.get(key.root, key.root) + "m"
    return MAJOR_SPELLING.get(key.root, key.root)


def _program(song: SongState, track: Track) -> list[Raw]:
    """A program change at tick 0, so players other than the MPC preview the right instrument."""
    number = program(song, track.part)
    return [] if number is None else [(0, bytes((0xC0 | (track.channel - 1), number)))]


def _spans(song: SongState, track: Track) -> list[tuple[int, int, int, int]]:
    """(start, stop, pitch, velocity) of every note, cut at the song's end, no same-pitch overlaps;
    drum notes as the song's drum map sends them.

    A note that starts while the same pitch still sounds stops the earlier one (a retrigger); two
    notes of one pitch at one tick become one, as long as the longer. So the file never holds
    two note-ons of a key without a note-off between them.
    """
    bar, end = _grid(song)
    notes = note_table(song.drum_map) if track.part == "drums" else range(128)  # roles -> the kit's notes
    raw = sorted(
        (clip.start_bar * bar + n.tick, notes[n.pitch], n.duration, n.velocity)
        for clip in track.clips
        for n in clip.notes
    )
    spans: list[tuple[int, int, int, int]] = []
    latest: dict[int, int] = {}  # pitch -> index in spans of its latest note
    for start, pitch, duration, velocity in raw:
        if start >= end:
            raise MidiDataError(f"track {track.name!r}: a note at tick {start} starts after "
                                f"the song's end (tick {end})")
        stop, prev = min(start + duration, end), latest.get(pitch)
        if prev is not None and spans[prev][1] > start:
            p_start, p_stop, _, p_velocity = spans[prev]
            if p_start == start:
                spans[prev] = (start, max(p_stop, stop), pitch, max(p_velocity, velocity))
                continue
            spans[prev] = (p_start, start, pitch, p_velocity)
        latest[pitch] = len(spans)
        spans.append((start, stop, pitch, velocity))
    return spans


def _note_events(song: SongState, track: Track) -> list[Raw]:
    channel = track.channel - 1
    spans = _spans(song, track)
    ranked = sorted(  # at one tick: note-offs (rank 0) first, then by pitch
        [(stop, 0, pitch, NOTE_OFF_VELOCITY) for _, stop, pitch, _ in spans]
        + [(start, 1, pitch, velocity) for start, _, pitch, velocity in spans]
    )
    status = (0x80 | channel, 0x90 | channel)
    return [(tick, bytes((status[on], pitch, velocity))) for tick, on, pitch, velocity in ranked]


def _chunk(events: list[Raw], end: int) -> bytes:
    """An ``MTrk`` chunk of ``events`` (in order), ending at ``end`` or at its last event."""
    body, now, running = bytearray(), 0, None
    for tick, data in events:
        body += _vlq(tick - now)
        if data[0] == 0xFF:  # meta: never under running status, and it cancels it
            body += data
            running = None
        else:  # running status: a channel message repeats no status byte (as mido writes it)
            body += data[1:] if data[0] == running else data
            running = data[0]
        now = tick
    body += _vlq(max(end - now, 0)) + b"\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def _smf(fmt: int, chunks: list[bytes]) -> bytes:
    header = b"MThd" + (6).to_bytes(4, "big") + fmt.to_bytes(2, "big") + len(chunks).to_bytes(2, "big") + PPQ.to_bytes(2, "big")
    return header + b"".join(chunks)


# --- building and reading files -------------------------------------------------------------------


def _ascii(text: str) -> str:
    """Text as plain ASCII: mido writes Latin-1, and hardware samplers show ASCII best."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_PUNCTUATION))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _name(text: str) -> Raw:
    return (0, _meta(0x03, _ascii(text).encode("ascii")))


def _mido_name(text: str) -> Timed:
    return (0, mido.MetaMessage("track_name", name=_ascii(text)))


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


def read(data: bytes) -> mido.MidiFile:
    """Parse Standard MIDI File bytes.

    Raises:
        MidiDataError: the data is not a Format 0, 1 or 2 file with a tick-based time division.
    """
    data = bytes(data)
    if data[:4] != b"MThd":
        raise MidiDataError("not a MIDI file: missing MThd header")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except EOFError:
        raise MidiDataError("not a valid MIDI file: the data ends early (truncated?)") from None
    except Exception as error:  # mido raises OSError, ValueError, KeyError, ... for bad bytes
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise MidiDataError(f"not a valid MIDI file: {detail}") from error
    if midi.type not in (0, 1, 2):
        raise MidiDataError(f"not a valid MIDI file: unknown format {midi.type}")
    if midi.ticks_per_beat <= 0:
        what = "SMPTE time division" if midi.ticks_per_beat < 0 else "0 ticks per beat"
        raise MidiDataError(f"unsupported MIDI file: {what}")
    return midi


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


def _absolute(track: mido.MidiTrack) -> Iterator[Timed]:
    now = 0
    for msg in track:
        now += msg.time
        yield now, msg


def _track_name(track: mido.MidiTrack) -> str:
    return next((msg.name for msg in track if msg.type == "track_name"), "")


def _plays(track: mido.MidiTrack) -> bool:
    """Whether the track holds channel messages (``channel_prefix`` is a meta with a channel)."""
    return any(not msg.is_meta and hasattr(msg, "channel") for msg in track)


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
        playing = [i for i, track in enumerate(midi.tracks) if _plays(track)]
        for i, track in enumerate(midi.tracks):
            events = [(_rescale(t, midi.ticks_per_beat), msg) for t, msg in _absolute(track)]
            sources.append(events)
            if i in playing:
                title = name if len(playing) == 1 else _track_name(track) or f"{name} {i}"
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
    conductor = _conductor_of([list(_absolute(track)) for track in midi.tracks])
    end = max((sum(msg.time for msg in track) for track in midi.tracks), default=0)
    out: list[tuple[str, bytes]] = []
    used: set[str] = set()
    for i, track in enumerate(midi.tracks):
        if not _plays(track):
            continue
        stem = _unique_stem(_track_name(track), f"track-{i}", used)
        body = [(t, m) for t, m in _absolute(track) if _copied(m)]
        head = [_mido_name(_track_name(track) or stem), *conductor]
        events = sorted([*head, *body], key=lambda e: e[0])  # stable: at one tick, metas first
        out.append((stem, _save(0, [_track(events, end)], midi.ticks_per_beat)))
    return out


def _unique_stem(name: str, fallback: str, used: set[str]) -> str:
    """``name`` as a file name stem not in ``used`` (which it joins)."""
    stem = re.sub(r"[^a-z0-9._]+", "-", _ascii(name).lower()).strip("-.") or fallback
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}"
    used.add(candidate)
    return candidate


# --- validate and notes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MidiReport:
    """What ``validate`` found in one file."""

    format: int
    tracks: int
    ticks_per_beat: int
    notes: int
    channels: tuple[int, ...]
    """One-based channels that carry any channel message, ascending."""
    length_ticks: int
    """Tick of the latest end_of_track."""
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _scan(track: mido.MidiTrack) -> tuple[list[NoteRow], list[str]]:
    """The track's notes and its pairing problems.

    A note-on while the same key sounds ends the earlier note there (a retrigger, as the writer
    does); a note-on never switched off lasts to the end of the track.
    """
    found: list[NoteRow] = []
    problems: list[str] = []
    sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, pitch) -> (start, velocity)
    now = 0
    for now, msg in _absolute(track):
        if msg.type not in ("note_on", "note_off"):
            continue
        key, where = (msg.channel, msg.note), f"pitch {msg.note} on channel {msg.channel + 1}"
        if key in sounding:
            start, velocity = sounding.pop(key)
            found.append((start, now - start, msg.note, velocity, msg.channel + 1))
            if msg.type == "note_on" and msg.velocity > 0:
                problems.append(f"overlapping notes: {where} at tick {now}, "
                                f"the note from tick {start} still sounds")
        elif msg.type == "note_off" or msg.velocity == 0:
            problems.append(f"note-off without note-on: {where} at tick {now}")
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[key] = (now, msg.velocity)
    for (channel, pitch), (start, velocity) in sorted(sounding.items(), key=lambda e: e[1]):
        problems.append(f"note-on without note-off: pitch {pitch} on channel {channel + 1} "
                        f"at tick {start}")
        found.append((start, now - start, pitch, velocity, channel + 1))
    return sorted(found), problems


def notes(data: bytes) -> list[tuple[str, list[NoteRow]]]:
    """(track name, sorted notes) for every track of the file, in file order, empty tracks too."""
    return [(_track_name(track), _scan(track)[0]) for track in read(data).tracks]


def validate(data: bytes, *, drums_channel_only: bool = False) -> MidiReport:
    """Check note pairing (and, with ``drums_channel_only``, that every note is on channel 10).

    Raises:
        MidiDataError: only when the data does not parse.
    """
    midi = read(data)
    problems: list[str] = []
    if midi.type == 0 and len(midi.tracks) != 1:
        problems.append(f"format 0 file has {len(midi.tracks)} tracks (it must have one)")
    count, channels, length = 0, set(), 0
    for i, track in enumerate(midi.tracks):
        found, issues = _scan(track)
        label = f"track {i} {_track_name(track)!r}"
        problems += [f"{label}: {issue}" for issue in issues]
        stray = [row for row in found if row[4] != DRUM_CHANNEL]
        if drums_channel_only and stray:
            noun = "note" if len(stray) == 1 else "notes"
            problems.append(f"{label}: {len(stray)} {noun} not on channel {DRUM_CHANNEL}, "
                            f"first at tick {stray[0][0]} on channel {stray[0][4]}")
        count += len(found)
        channels |= {m.channel + 1 for m in track if not m.is_meta and hasattr(m, "channel")}
        length = max(length, sum(msg.time for msg in track))
    return MidiReport(midi.type, len(midi.tracks), midi.ticks_per_beat, count,
                      tuple(sorted(channels)), length, tuple(problems))
