"""Standard MIDI Files written from a song: one part as Format 0, the arrangement as Format 1.

Written files follow what every DAW (MPC Beats included) opens without complaint: 480 PPQ, explicit
``note_off`` messages, note-offs before note-ons at the same tick, ASCII text in meta events, every
track ending at the song's end. Output depends only on the input: the same song gives byte-identical
files. Reading and checking files is ``midi_inspect``; hex, merge and split are ``midi_edit``.
"""

from __future__ import annotations

import unicodedata

import mido

from backbeat.engine.time import PPQ, Meter as TimeMeter

from .drum_maps import note_table
from .errors import BadRequestError, MidiDataError
from .instruments import program
from .model import Key, Part, SongState, Track

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
    """The song as Format 1: a tempo-map track with section markers, then one track per part. A
    muted part keeps its track (named "... (muted)", so the tracks stay in order) without its notes:
    the file plays what the song plays. Its own ``part_file`` keeps every note, to bring it back."""
    key, (bar, end) = song.progression.key.label(), _grid(song)
    markers = [
        (start * bar, _meta(0x06, ascii_text(section.name).encode("ascii")))
        for start, section in zip(song.arrangement.start_bars(), song.arrangement.sections)
    ]
    head = [_name(f"{song.intent.genre.primary} - {key}"), *_conductor(song), *markers]
    parts = [[_name(f"{track.name} (muted)"), *_program(song, track)] if track.muted
             else [_name(track.name), *_program(song, track), *_note_events(song, track)] for track in song.tracks]
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


# --- text --------------------------------------------------------------------------------------


def ascii_text(text: str) -> str:
    """Text as plain ASCII: mido writes Latin-1, and hardware samplers show ASCII best."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_PUNCTUATION))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _name(text: str) -> Raw:
    return (0, _meta(0x03, ascii_text(text).encode("ascii")))
