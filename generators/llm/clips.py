"""A part's answer for one section — a JSON note list bar by bar, or a MIDI file as hex (the seed's
mode) — turned into a valid ``Clip``. Both formats become the same raw notes and go through the
same repair:

- positions: bars and beats counted from 1 (or from 0, if the model counted so), plus an optional
  tick offset, quantized to ``GRID``; notes outside the clip are dropped, notes are cut at its end;
- drums: lane names ("kick", "hi-hat") and stray note numbers mapped onto the General MIDI lanes of
  config/drums.toml (the track's channel is 10 whatever the answer said);
- pitched parts: note names read ("Eb3"), pitches moved by octaves into the part's range
  (config/parts.toml), and a note that is neither in the scale nor a tone of the chord sounding at
  that moment snapped to the nearest one that is;
- velocities clamped, missing lengths (missing note-offs) given the part's default, overlaps on one
  pitch removed (``grid.clean``).

A repaired clip then has to pass the musical floor (``floor_problem``, config/llm.toml): notes at
all, and notes per bar within a range of the algorithmic clip's for the same part and section, so
an empty or near-empty answer never replaces a draft that plays. ``clip_tokens`` sizes a request's
``max_tokens`` from the same algorithmic clip, and ``renumbered`` places the bars of an answer for
part of a clip (after an answer was cut at its limit, the rest is asked for a few bars at a time).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from backbeat.engine.time import PPQ

from backbeat.generators import midi_edit, midi_inspect
from backbeat.generators.errors import MidiDataError
from backbeat.generators.grid import SectionGrid, Span, clip, fit_register
from backbeat.generators.model import Clip, Note, Part, Source
from backbeat.generators.tables import tables
from backbeat.generators.theory import Scale, pitch_class

from .config import llm_tables
from .errors import RepairError
from .schemas import BarAnswer

GRID = PPQ // 24
"""Quantization step (20 ticks): fine enough for sixteenths, triplets and a swung offbeat."""
DEFAULT_LENGTH: dict[Part, int] = {"drums": 60, "bass": PPQ // 2, "chords": PPQ, "lead": PPQ // 2}
"""Ticks a note lasts when the answer gives no length (or, in MIDI, no note-off)."""
DEFAULT_VELOCITY: dict[Part, int] = {"drums": 100, "bass": 96, "chords": 84, "lead": 90}
DRUM_ALIASES = {
    "bass drum": "kick", "bd": "kick", "kick drum": "kick", "sd": "snare", "snare drum": "snare",
    "hi hat": "hat", "hihat": "hat", "hh": "hat", "closed hat": "hat", "closed hihat": "hat", "closed hi hat": "hat",
    "open hat": "ohat", "open hihat": "ohat", "open hi hat": "ohat", "oh": "ohat", "pedal hat": "phat",
    "pedal hihat": "phat", "rimshot": "rim", "side stick": "rim", "handclap": "clap", "crash cymbal": "crash",
    "ride cymbal": "ride", "tambourine": "tamb", "low tom": "ltom", "mid tom": "mtom", "high tom": "htom",
}
_NOTE_NAME = re.compile(r"([A-Ga-g])([#b]?)(-?\d)")


@dataclass(frozen=True, slots=True)
class RawNote:
    """A note as the model wrote it, positioned but not yet repaired."""

    tick: int
    """From the clip's start, 480 per beat."""
    duration: int | None
    pitch: int | str
    velocity: int | None


def from_bars(bars: Iterable[BarAnswer], bar_ticks: int, beat_ticks: int) -> list[RawNote]:
    """The notes of a JSON clip answer (bars and beats from 1, or from 0 if the model counted so)."""
    bars = list(bars)
    first_bar = 0 if any(b.bar == 0 for b in bars) else 1
    first_beat = 0 if any(n.beat < 1 for b in bars for n in b.notes) else 1
    notes = []
    for b in bars:
        for n in b.notes:
            if not math.isfinite(n.beat) or n.beat < 0:
                continue
            tick = (b.bar - first_bar) * bar_ticks + round((n.beat - first_beat) * beat_ticks) + n.tick
            length = round(n.len * beat_ticks) if n.len is not None and math.isfinite(n.len) else None
            notes.append(RawNote(tick, length, n.pitch, n.vel))
    return notes


def from_hex(text: str) -> list[RawNote]:
    """The notes of a hex-encoded MIDI file, at 480 per beat, every track and channel.

    Raises:
        RepairError: the text is not the hex of a MIDI file.
    """
    try:
        data = midi_edit.hex_to_midi(text)
        resolution = midi_inspect.read(data).ticks_per_beat
        tracks = midi_inspect.notes(data)
    except MidiDataError as e:
        raise RepairError(f"the hex MIDI is unusable: {e}") from e
    scale = PPQ / resolution
    return [
        RawNote(round(tick * scale), round(duration * scale) or None, pitch, velocity)
        for _, rows in tracks
        for tick, duration, pitch, velocity, _ in rows
    ]


def complete_bars(partial: Any) -> list[BarAnswer]:
    """The bars of a streaming JSON clip answer that are finished (every one but the last seen).

    A bar that does not validate ends the list: what follows it is not trusted either.
    """
    bars = partial.get("bars") if isinstance(partial, dict) else None
    if not isinstance(bars, list):
        return []
    done = []
    for item in bars[:-1]:
        try:
            done.append(BarAnswer.model_validate(item))
        except ValidationError:
            break
    return done


def _drum_pitch(pitch: int | str) -> int | None:
    gm = tables().parts.drums.gm
    if isinstance(pitch, str):
        name = re.sub(r"[\s_\-]+", " ", pitch.strip().lower())
        lane = name if name in gm else DRUM_ALIASES.get(name)
        if lane is None and name.isdigit():
            return _drum_pitch(int(name))
        return gm[lane] if lane is not None and lane in gm else None
    return min(sorted(set(gm.values())), key=lambda p: abs(p - pitch))


def _pitch(pitch: int | str) -> int | None:
    if isinstance(pitch, int):
        return pitch
    m = _NOTE_NAME.fullmatch(pitch.strip())
    if m is not None:
        return pitch_class(m.group(1).upper() + m.group(2)) + 12 * (int(m.group(3)) + 1)
    return int(pitch) if pitch.strip().isdigit() else None


def _span_at(spans: tuple[Span, ...], tick: int) -> Span:
    return next((s for s in spans if s.start <= tick < s.end), spans[-1])


def _in_key(pitch: int, allowed: set[int], low: int, high: int) -> int:
    """``pitch`` in ``low..high``, snapped to the nearest allowed pitch class (downward on a tie)."""
    if not 0 <= pitch <= 127:
        pitch = low + (pitch - low) % 12  # far out of MIDI's range: keep only the pitch class
    pitch = fit_register(pitch, low, high)
    for distance in range(7):
        for candidate in (pitch - distance, pitch + distance):
            if candidate % 12 in allowed:
                return fit_register(candidate, low, high)
    return pitch


def repaired(
    part: Part, raw: Iterable[RawNote], grid: SectionGrid, scale: Scale, *, source: Source, version: int = 1
) -> Clip:
    """A valid clip of ``part`` for the section of ``grid`` from the model's notes.

    Raises:
        RepairError: none of the notes could be placed in the clip.
    """
    raw = list(raw)
    low, high = tables().parts.parts[part].pitch_range
    length = grid.length
    notes = []
    for n in raw:
        tick = max(0, round(n.tick / GRID) * GRID)
        if tick >= length:
            continue
        if part == "drums":
            pitch = _drum_pitch(n.pitch)
        else:
            pitch = _pitch(n.pitch)
            if pitch is not None:
                chord = {p % 12 for p in _span_at(grid.spans, tick).chord.notes}
                pitch = _in_key(pitch, set(scale.pitch_classes) | chord, low, high)
        if pitch is None:
            continue
        duration = n.duration if n.duration is not None and n.duration > 0 else DEFAULT_LENGTH[part]
        duration = max(GRID, round(duration / GRID) * GRID)
        velocity = n.velocity if n.velocity is not None else DEFAULT_VELOCITY[part]
        notes.append(Note(tick=tick, duration=duration, pitch=pitch, velocity=max(1, min(127, velocity))))
    if raw and not notes:
        raise RepairError(f"none of the {len(raw)} {part} notes could be placed in the clip")
    return clip(grid, notes, source, version)


def renumbered(bars: Iterable[BarAnswer], first: int, last: int) -> list[BarAnswer]:
    """The bars of an answer for bars ``first``..``last`` of a clip (1-based), numbered within the
    whole clip and kept in that range: a model asked for bars 5-8 may count them 5-8, 1-4 or 0-3."""
    bars = list(bars)
    if not bars:
        return []
    lowest = min(b.bar for b in bars)
    shift = first - lowest if lowest < first else 0
    moved = [b.model_copy(update={"bar": b.bar + shift}) for b in bars]
    return [b for b in moved if first <= b.bar <= last]


def notes_in(clip_: Clip, first: int, last: int, bar_ticks: int) -> int:
    """Notes of ``clip_`` that start in its bars ``first``..``last`` (1-based)."""
    lo, hi = (first - 1) * bar_ticks, last * bar_ticks
    return sum(lo <= n.tick < hi for n in clip_.notes)


def clip_tokens(draft: Clip, first: int, last: int, bar_ticks: int, *, hex_mode: bool = False) -> int:
    """``max_tokens`` for an answer of bars ``first``..``last``, sized from the algorithmic clip."""
    t = llm_tables().tokens.clip
    bars = last - first + 1
    expected = max(notes_in(draft, first, last, bar_ticks) * t.headroom, t.min_notes_per_bar * bars)
    tokens = t.base + t.per_bar * bars + t.per_note * expected
    return min(t.max, round(tokens * (t.hex_factor if hex_mode else 1.0)))


def bars_per_request(draft: Clip, bar_ticks: int) -> int:
    """The most bars one request may ask for while its answer fits the token ceiling."""
    bars = draft.bars
    while bars > 1 and clip_tokens(draft, 1, bars, bar_ticks) >= llm_tables().tokens.clip.max:
        bars = (bars + 1) // 2
    return bars


def floor_problem(part: Part, model: Clip, draft: Clip) -> str | None:
    """Why ``model`` may not replace ``draft`` (the algorithmic clip of the same part and section),
    in a producer's words; None when it passes the musical floor."""
    if not model.notes:
        return "no notes"
    floor = llm_tables().floor
    per_bar = len(model.notes) / model.bars
    if not draft.notes:
        ceiling = floor.max_notes_per_bar[part]
        return None if per_bar <= ceiling else f"{per_bar:.1f} notes a bar (at most {ceiling} where the draft rests)"
    expected = len(draft.notes) / draft.bars
    if per_bar < expected * floor.min_ratio:
        return f"{per_bar:.1f} notes a bar against the draft's {expected:.1f}"
    if per_bar > expected * floor.max_ratio:
        return f"{per_bar:.1f} notes a bar against the draft's {expected:.1f}"
    return None
