"""How musical the algorithmic songs are: figures read from their MIDI, per genre and overall.

``backbeat bench music [--json]`` composes every case of ``cases()`` (each genre's own name as the
prompt, two seeds, plus the flagship prompts), writes each song's ``full-arrangement.mid``, reads
the notes back from those bytes (mido), and measures them. Labels the MIDI cannot carry (which
section is a bridge, which chord the progression plays, the genre's feel) come from the song's
``SongState``. ``tests/generators/test_quality.py`` asserts the same figures with these same
functions, so a definition here is the definition there. ``backbeat bench music --sketch PROMPT``
prints a few bars of one song as a step grid instead, to look at it as a producer would.

Definitions (480 ticks per beat; a bar is the song's meter, 4/4 here; "the lead", "the chords" are
the notes of that part's track in the file):

- **lead bars**: bars in which at least one lead note starts. A bar's **rhythm** is the set of its
  lead onsets, each rounded to the nearest 16th (so swing and micro-timing never make two bars
  differ). ``lead_rhythms`` = distinct bar rhythms / lead bars.
- **rest**: a silence of the lead lasting at least one beat inside a section where the lead plays
  (before its first note, between two notes, after its last note to the section's end). ``rests``
  = rests per 4 bars of those sections. Asked of *sung-like* genres: those whose lead style is
  marked ``sung`` in config/patterns.toml.
- **cadence**: the last lead note of a section is a tone of the chord the progression plays for the
  longest part of it and lasts at least 7/8 of a beat (420 ticks: a one-beat note with its articulation gap).
  ``cadences`` = section-final lead notes that are cadences / sections with a lead.
- **above**: a lead note is above the chords when its pitch is higher than the chords' top voice at
  its onset: the highest chord note sounding then, else the highest of the chords' latest onset
  in the same section (lead notes with neither are not counted). ``above`` = share above.
- **clash**: a lead note a minor second (or minor ninth, or more octaves) above, or exactly a
  minor second below, a chord note that overlaps it by at least a 32nd (60 ticks) — the avoid-note
  interval; a major seventh above a chord note is a chord colour, not a clash. ``clashes`` = share.
- **swing**: the genre's swing ratio r and grid g (8ths: 240 ticks, 16ths: 120) come from its feel
  (``generators.feel``); a song *swings* when r >= 0.54. Per part, the part's lag is the median
  distance of its onsets to the start of their pair of grid steps; after removing it, a note is an **off-beat
  note** when its position p within its pair of grid steps (2g) is nearer g (straight) or 2gr
  (swung) than any other 16th of the swung grid, and it is **at the ratio** when p is nearer 2gr
  than g. (The lag is measured on the notes within g/2 of the start of a pair.) ``swing`` = the smallest, over the parts with at least 8 off-beat notes, of the share of
  their off-beat notes at the ratio.
- **timing spread**: per non-drum part, the standard deviation in milliseconds (at the song's tempo)
  of each onset's distance to the nearest point of the swung 16th grid or the 16th-triplet grid.
  ``spread`` = (smallest, largest) over the non-drum parts. Asked where the genre's feel has a
  human timing (``human_ms`` > 0).
- **hat accents**: hats are GM 42, 44 and 46; a hat is on the beat when it starts within 30 ticks of
  a quarter note. ``hat_accent`` = |mean velocity on the beat - mean velocity off it|.
- **fill**: at a boundary into a section of higher energy (by more than 0.05) in which the drums
  play from its first bar, the last bar before the boundary carries a fill when it holds a roll
  (below), or is a drop-out (at most 60% of the onsets of the bar before), or its drum onsets (GM
  note, 16th) differ from the bar before it in at least 4 places and it brings in a tom or hand drum
  the bar before did not play (GM 41-50 toms, 60-66 bongos, congas, timbales) or holds at least 3
  snare, clap or rim hits in its last 2 beats; when the drums are silent the bar before, at least 3 hits in the
  last 2 beats (a pickup) are a fill. ``fills`` = boundaries with a fill / such boundaries.
- **roll**: a run of at least 3 hat onsets, evenly spaced (within 5 ticks) less than a 16th apart.
  Its kind is the spacing (60: 32nds, 80: 16th triplets, 40: 32nd triplets, 30: 64ths) and its beat
  the beat of the bar it starts in. ``roll_kinds``, ``roll_beats`` = how many of each a song has.
- **lock**: in bars where both play, ``lock_bass`` = share of bass notes starting within 30 ticks of
  a kick (GM 35, 36), ``lock_kick`` = share of kicks with a bass note starting within 30 ticks.
  Asked of genres whose feel locks the bass to the kick.
- **scale consistency** (MusPy's): the largest share, over the 24 major and natural minor scales, of
  the song's non-drum notes whose pitch class is in the scale.
- **bridge order**: a bridge has a chord order of its own when it plays a chord no other section
  plays, or when more than half of its chord changes (one symbol to a different one) are moves that
  no other section makes (each other section's chord sequence taken as a loop).
- **seeds differ**: the two seeds of a genre's prompt give progressions with different symbols.
- **groove consistency** (MusPy's): every onset of every part marks one of 96 positions of its bar
  (24 per beat); 1 - the mean Hamming distance between consecutive bars' patterns / 96.
- **repeated choruses**: for each later chorus (a section kind of ``CHORUS_KINDS`` that repeats),
  the Jaccard overlap with the first one of its chord-part notes as (bar in section, 16th, pitch).
  ``chorus_overlap`` = the largest such overlap of a song.
- **lead repeat**: the smallest Jaccard overlap of a later chorus's lead notes (bar in section, 16th,
  pitch) with the first chorus's: how recognisably a repeat sings the same (no floor in issue 10;
  the quality test keeps it at 0.25 or more).
- **genre identity**: a genre's drum profile is, per (16th of the bar, GM note), the number of drum
  onsets there divided by the bars the drums play; two profiles share sum(min) / sum(max) of them
  (a weighted Jaccard). Compared for every pair of genres composed with the same seed.
- **programs**: every non-drum track of the file carries a program change before its first note.
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from backbeat.generators import feel, instruments, midi, midi_inspect, pipeline
from backbeat.generators.grid import spans, ticks_per_bar
from backbeat.generators.model import Chord, Section, SongState
from backbeat.generators.tables import tables
from backbeat.generators.theory import pitch_class

BEAT = 480
SIXTEENTH = 120
HATS = frozenset({42, 44, 46})
KICKS = frozenset({35, 36})
TOMS = frozenset({41, 43, 45, 47, 48, 50})
HAND_DRUMS = frozenset({60, 61, 62, 63, 64, 65, 66})
SNARES = frozenset({37, 38, 39, 40})
CHORUS_KINDS = frozenset({"chorus", "hook", "drop"})
SEEDS = (1, 2)
FLAGSHIP = (
    "Frank Ocean meets Burial, late-night vibes",
    "Trap beat, dark, 140 BPM",
    "Neo soul, Eb minor, 90 BPM, 4 tracks, 32 bars",
    "bossa nova, relaxed",
    "pop ballad",
)

FLOORS: dict[str, tuple[float | None, float | None]] = {
    "lead_rhythms": (0.3, None),
    "rests": (1.0, None),
    "cadences": (0.8, None),
    "above": (0.7, None),
    "clashes": (None, 0.03),
    "swing": (0.8, None),
    "spread_low": (3.0, None),
    "spread_high": (None, 15.0),
    "hat_accent": (10.0, None),
    "fills": (0.8, None),
    "roll_kinds": (2, None),
    "roll_beats": (2, None),
    "lock_bass": (0.85, None),
    "lock_kick": (0.7, None),
    "scale_consistency": (0.85, 0.97),
    "groove_consistency": (0.90, 0.97),
    "chorus_overlap": (None, 0.9),
    "bridge_own": (0.8, None),
    "seeds_differ": (0.9, None),
    "genre_overlap": (None, 0.7),
    "ballad_bpm": (None, 85),
    "programs": (1.0, None),
}
"""(lowest, highest) each figure may be where it is asked (issue 10's "Done when")."""

COLOR_GENRES = ("gospel", "neo-soul", "funk", "jazz")
"""Where scale consistency is asked to stay between its bounds (colour without losing the key)."""
ROLL_GENRES = ("trap",)


def cases() -> list[tuple[str, int]]:
    """(prompt, seed): every genre's own name with two seeds, then the flagship prompts."""
    genres = tables().intent.genres
    return [(g.name, s) for g in genres.values() for s in SEEDS] + [(p, 1) for p in FLAGSHIP]


# --- a song as the metrics hear it -------------------------------------------------------------------


Row = tuple[int, int, int, int]
"""(tick, duration, pitch, velocity) of one note, song ticks."""


@dataclass(frozen=True)
class Heard:
    """A song's notes read back from its full-arrangement file, with its labels from the SongState."""

    song: SongState
    notes: dict[str, list[Row]]
    programs: dict[str, list[tuple[int, int]]]
    """Part -> (tick, program) of every program change in its track."""

    @property
    def bar(self) -> int:
        return ticks_per_bar(self.song.arrangement)

    @property
    def genre(self) -> str:
        return self.song.intent.genre.primary

    @cached_property
    def sections(self) -> list[tuple[int, int, Section]]:
        bar = self.bar
        return [(start * bar, (start + s.bars) * bar, s) for start, s in zip(self.song.arrangement.start_bars(), self.song.arrangement.sections)]

    @cached_property
    def chord_spans(self) -> list[tuple[int, int, Chord]]:
        out = []
        for start, _, section in self.sections:
            out += [(start + sp.start, start + sp.end, sp.chord) for sp in spans(section, self.song.progression, self.bar, BEAT)]
        return out

    def chord_at(self, tick: int) -> Chord | None:
        return next((c for s, e, c in self.chord_spans if s <= tick < e), None)

    def chord_under(self, start: int, end: int) -> Chord | None:
        """The chord the progression plays for the longest part of ``start..end``."""
        best = max(((min(e, end) - max(s, start), c) for s, e, c in self.chord_spans if s < end and e > start), default=None, key=lambda x: x[0])
        return best[1] if best else self.chord_at(start)

    @cached_property
    def by_bar(self) -> dict[str, dict[int, list[Row]]]:
        """Part -> bar -> the part's notes sounding in that bar (a note in every bar it spans)."""
        out: dict[str, dict[int, list[Row]]] = {}
        for part, rows in self.notes.items():
            bars: dict[int, list[Row]] = {}
            for n in rows:
                for b in range(n[0] // self.bar, (n[0] + max(n[1], 1) - 1) // self.bar + 1):
                    bars.setdefault(b, []).append(n)
            out[part] = bars
        return out

    def near(self, part: str, start: int, end: int) -> list[Row]:
        """Notes of ``part`` sounding in the bars that ``start..end`` touches."""
        bars = self.by_bar.get(part, {})
        found: dict[Row, None] = {}
        for b in range(start // self.bar, max(start, end - 1) // self.bar + 1):
            found.update(dict.fromkeys(bars.get(b, ())))
        return sorted(found)

    def ms(self, ticks: float) -> float:
        return ticks * 60_000 / (self.song.bpm * BEAT)


def hear(song: SongState, *, from_file: bool = True) -> Heard:
    """``song`` written as its full-arrangement file and read back (one pass over each track).

    Without ``from_file`` the notes are taken from the song itself, as the file would hold them
    (the quality test does, having checked that every note survives the round trip)."""
    if not from_file:
        bar = ticks_per_bar(song.arrangement)
        notes = {t.part: sorted((c.start_bar * bar + n.tick, n.duration, n.pitch, n.velocity) for c in t.clips for n in c.notes) for t in song.tracks}
        programs = {t.part: [] if instruments.program(song, t.part) is None else [(0, instruments.program(song, t.part))] for t in song.tracks}
        return Heard(song, notes, programs)
    parsed = midi_inspect.read(midi.arrangement_file(song))
    by_name = {t.name: t.part for t in song.tracks}
    notes: dict[str, list[Row]] = {}
    programs: dict[str, list[tuple[int, int]]] = {}
    for track in parsed.tracks[1:]:
        now, name, rows, changes = 0, "", [], []
        sounding: dict[int, tuple[int, int]] = {}
        for msg in track:
            now += msg.time
            if msg.type == "track_name":
                name = msg.name
            elif msg.type == "program_change":
                changes.append((now, msg.program))
            elif msg.type in ("note_on", "note_off"):
                if msg.note in sounding:
                    start, velocity = sounding.pop(msg.note)
                    rows.append((start, now - start, msg.note, velocity))
                if msg.type == "note_on" and msg.velocity > 0:
                    sounding[msg.note] = (now, msg.velocity)
        part = by_name.get(name, name)
        notes[part], programs[part] = sorted(rows), changes
    return Heard(song, notes, programs)


def _tones(chord: Chord) -> set[int]:
    root = pitch_class(chord.root)
    return {(root + i) % 12 for i in tables().theory.qualities[chord.quality].intervals} | {chord.notes[0] % 12}


def _in_sections(h: Heard, part: str) -> list[tuple[int, int, Section]]:
    return [x for x in h.sections if part in x[2].active_tracks]


# --- lead --------------------------------------------------------------------------------------------


def lead_rhythms(h: Heard) -> float | None:
    bars: dict[int, set[int]] = {}
    for t, _, _, _ in h.notes.get("lead", []):
        bar, within = divmod(t, h.bar)
        bars.setdefault(bar, set()).add(round(within / SIXTEENTH))
    if not bars:
        return None
    return len({frozenset(v) for v in bars.values()}) / len(bars)


def rests(h: Heard) -> float | None:
    lead = h.notes.get("lead", [])
    count, bars = 0, 0
    for start, end, section in _in_sections(h, "lead"):
        bars += section.bars
        inside = [n for n in lead if start <= n[0] < end]
        cursor = start
        for t, d, _, _ in inside:
            count += t - cursor >= BEAT
            cursor = max(cursor, t + d)
        count += end - cursor >= BEAT
    return count / (bars / 4) if bars else None


def cadences(h: Heard) -> float | None:
    lead = h.notes.get("lead", [])
    total = good = 0
    for start, end, _ in _in_sections(h, "lead"):
        inside = [n for n in lead if start <= n[0] < end]
        if not inside:
            continue
        t, d, p, _ = max(inside, key=lambda n: (n[0], n[2]))
        chord = h.chord_under(t, t + d)
        total += 1
        good += chord is not None and p % 12 in _tones(chord) and d >= 420
    return good / total if total else None


def _sounding(rows: list[Row], tick: int) -> list[Row]:
    return [n for n in rows if n[0] <= tick < n[0] + n[1]]


def above(h: Heard) -> float | None:
    counted = high = 0
    for start, end, _ in h.sections:
        for t, _, p, _ in (n for n in h.notes.get("lead", []) if start <= n[0] < end):
            mine = [n for n in h.near("chords", start, t + 1) if start <= n[0] < end]
            now = _sounding(mine, t)
            if not now:
                earlier = [n for n in mine if n[0] <= t]
                if not earlier:
                    earlier = [n for n in h.notes.get("chords", []) if start <= n[0] <= t]
                if not earlier:
                    continue
                last = max(n[0] for n in earlier)
                now = [n for n in earlier if n[0] == last]
            counted += 1
            high += p > max(n[2] for n in now)
    return high / counted if counted else None


def clashes(h: Heard) -> float | None:
    lead = h.notes.get("lead", [])
    if not lead:
        return None
    bad = 0
    for t, d, p, _ in lead:
        for ct, cd, cp, _ in h.near("chords", t, t + d):
            overlap = min(t + d, ct + cd) - max(t, ct)
            if overlap >= 60 and ((p - cp) % 12 == 1 or p - cp == -1):
                bad += 1
                break
    return bad / len(lead)


# --- feel --------------------------------------------------------------------------------------------


def _swung_points(ratio: float, grid: int) -> list[float]:
    """Positions within one pair of grid steps (2 * grid ticks) of the swung 16ths."""
    pair = 2 * grid
    split = 2 * grid * ratio
    points = []
    for k in range(pair // SIXTEENTH + 1):
        x = k * SIXTEENTH
        points.append(x * split / grid if x <= grid else split + (x - grid) * (pair - split) / grid)
    return points


def _lag(rows: list[Row], grid: int) -> float:
    """Median distance of the notes near the start of a pair of grid steps to that start."""
    pair = 2 * grid
    near = [d for t, *_ in rows if abs(d := ((t + grid) % pair) - grid) < grid / 2]
    return statistics.median(near) if near else 0.0


def swing(h: Heard) -> float | None:
    f = feel.of(h.song.intent)
    if f.swing < 0.54:
        return None
    g, pair = f.grid, 2 * f.grid
    swung = 2 * g * f.swing
    points = _swung_points(f.swing, g)
    others = [x for x in points if abs(x - swung) > 1]
    shares = []
    for rows in h.notes.values():
        lag = _lag(rows, g)
        off = at = 0
        for t, *_ in rows:
            p = (t - lag) % pair
            d_straight, d_swung = abs(p - g), abs(p - swung)
            nearest_other = min(abs(p - x) for x in others if abs(x - g) > 1) if others else pair
            if min(d_straight, d_swung) < nearest_other:
                off += 1
                at += d_swung < d_straight
        if off >= 8:
            shares.append(at / off)
    return min(shares) if shares else None


def spread(h: Heard) -> tuple[float, float] | None:
    f = feel.of(h.song.intent)
    pair = 2 * f.grid
    points = sorted(set(_swung_points(f.swing, f.grid) + [k * 80 for k in range(pair // 80 + 1)]))
    values = []
    for part in ("bass", "chords", "lead"):
        rows = h.notes.get(part, [])
        onsets = sorted({t for t, *_ in rows})
        if len(onsets) < 8:
            continue
        residual = []
        for t in onsets:
            p = t % pair
            nearest = min(points, key=lambda x: abs(p - x))
            residual.append(p - nearest)
        values.append(h.ms(statistics.pstdev(residual)))
    return (min(values), max(values)) if values else None


def hat_accent(h: Heard) -> float | None:
    on, off = [], []
    for t, _, p, v in h.notes.get("drums", []):
        if p in HATS:
            distance = min(t % BEAT, BEAT - t % BEAT)
            (on if distance <= 30 else off).append(v)
    if len(on) < 8 or len(off) < 8:
        return None
    return abs(statistics.mean(on) - statistics.mean(off))


# --- drums: fills, rolls, lock ------------------------------------------------------------------------


def _drum_rows(h: Heard, bar: int) -> list[Row]:
    """The drum notes of ``bar``, each counted in the bar of its nearest 16th (a hit played a few
    milliseconds early on a downbeat belongs to that downbeat)."""
    rows = [*h.by_bar.get("drums", {}).get(bar - 1, ()), *h.by_bar.get("drums", {}).get(bar, ())]
    return sorted({n for n in rows if (n[0] + SIXTEENTH // 2) // h.bar == bar})


def _drum_bar(h: Heard, bar: int) -> set[tuple[int, int]]:
    start = bar * h.bar
    return {(p, min(15, round((t - start) / SIXTEENTH))) for t, _, p, _ in _drum_rows(h, bar)}


def _roll_runs(rows: list[Row]) -> list[tuple[int, int]]:
    """(spacing, first tick) of every hat roll."""
    ticks = sorted({t for t, _, p, _ in rows if p in HATS})
    runs, i = [], 0
    while i < len(ticks) - 2:
        gap = ticks[i + 1] - ticks[i]
        j = i + 1
        while j + 1 < len(ticks) and abs(ticks[j + 1] - ticks[j] - gap) <= 5:
            j += 1
        if j - i >= 2 and gap < SIXTEENTH - 5:
            runs.append((gap, ticks[i]))
            i = j
        else:
            i += 1
    return runs


_ROLL_KINDS = {60: "32nd", 80: "16th triplet", 40: "32nd triplet", 30: "64th"}


def rolls(h: Heard) -> tuple[int, int]:
    """(roll kinds, beats rolls start on) in the song's drums."""
    runs = _roll_runs(h.notes.get("drums", []))
    kinds = {min(_ROLL_KINDS, key=lambda k: abs(k - gap)) for gap, _ in runs}
    beats = {(t % h.bar) // BEAT for _, t in runs}
    return len(kinds), len(beats)


def _is_fill(h: Heard, bar: int) -> bool:
    last, before = _drum_bar(h, bar), _drum_bar(h, bar - 1) if bar > 0 else set()
    if not last:
        return False
    if not before:
        return sum(s >= 8 for _, s in last) >= 3
    if _roll_runs(_drum_rows(h, bar)) or len(last) <= 0.6 * len(before):
        return True
    if len(last ^ before) < 4:
        return False
    tail = [p for p, s in last if s >= 8 and p in SNARES]
    new_drums = {p for p, _ in last} - {p for p, _ in before}
    return bool(new_drums & (TOMS | HAND_DRUMS)) or len(tail) >= 3


def fills(h: Heard) -> tuple[int, int]:
    """(boundaries into higher energy with a fill, such boundaries)."""
    done = total = 0
    sections = h.sections
    for (_, end, a), (_, _, b) in zip(sections, sections[1:]):
        if b.energy > a.energy + 0.05 and "drums" in b.active_tracks and not b.enters.get("drums"):
            total += 1
            done += _is_fill(h, end // h.bar - 1)
    return done, total


def _near_any(t: int, pool: list[int], within: int = 30) -> bool:
    i = bisect.bisect_left(pool, t - within)
    return i < len(pool) and pool[i] <= t + within


def lock(h: Heard) -> tuple[float, float] | None:
    both = [(s, e) for s, e, sec in h.sections if {"drums", "bass"} <= set(sec.active_tracks)]
    inside = lambda t: any(s <= t < e for s, e in both)  # noqa: E731
    kicks = sorted(t for t, _, p, _ in h.notes.get("drums", []) if p in KICKS and inside(t))
    notes = sorted(t for t, *_ in h.notes.get("bass", []) if inside(t))
    if not kicks or not notes:
        return None
    return sum(_near_any(t, kicks) for t in notes) / len(notes), sum(_near_any(k, notes) for k in kicks) / len(kicks)


# --- harmony and form ---------------------------------------------------------------------------------


def scale_consistency(h: Heard) -> float | None:
    pcs = Counter(p % 12 for part, rows in h.notes.items() if part != "drums" for _, _, p, _ in rows)
    total = sum(pcs.values())
    if not total:
        return None
    major, minor = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
    return max(sum(pcs[(root + i) % 12] for i in shape) for root in range(12) for shape in (major, minor)) / total


def _section_symbols(h: Heard, start: int, end: int) -> list[str]:
    return [c.symbol for s, _, c in h.chord_spans if start <= s < end]


def _moves(symbols: list[str], looped: bool) -> list[tuple[str, str]]:
    ring = symbols + symbols[:1] if looped else symbols
    return list(zip(ring, ring[1:]))


def bridge_own(h: Heard) -> bool | None:
    bridges = [(s, e) for s, e, sec in h.sections if sec.kind == "bridge"]
    if not bridges:
        return None
    others = [_section_symbols(h, s, e) for s, e, sec in h.sections if sec.kind != "bridge"]
    heard = {c for o in others for c in o}
    moves = {m for o in others for m in _moves(o, True)}
    for s, e in bridges:
        mine = _section_symbols(h, s, e)
        if set(mine) - heard:
            continue
        own = [m for m in _moves(mine, False) if m[0] != m[1]]
        if not own or sum(m not in moves for m in own) * 2 <= len(own):
            return False
    return True


def groove_consistency(h: Heard) -> float | None:
    bars = h.song.arrangement.total_bars
    if bars < 2:
        return None
    res = 96
    per_tick = h.bar / res
    patterns = [set() for _ in range(bars)]
    for rows in h.notes.values():
        for t, *_ in rows:
            bar, within = divmod(t, h.bar)
            patterns[bar].add(min(res - 1, round(within / per_tick)))
    distance = sum(len(a ^ b) for a, b in zip(patterns, patterns[1:]))
    return 1 - distance / (res * (bars - 1))


def chorus_overlap(h: Heard) -> tuple[float, bool] | None:
    """(largest overlap of a later chorus with the first, whether any is byte-identical)."""
    chords = h.notes.get("chords", [])
    firsts: dict[str, tuple[set, list]] = {}
    worst, identical = None, False
    for start, end, section in h.sections:
        if section.kind not in CHORUS_KINDS or "chords" not in section.active_tracks:
            continue
        rows = [(t - start, d, p, v) for t, d, p, v in chords if start <= t < end]
        shape = {(t // h.bar, round((t % h.bar) / SIXTEENTH), p) for t, _, p, _ in rows}
        if section.kind not in firsts:
            firsts[section.kind] = (shape, rows)
            continue
        first, first_rows = firsts[section.kind]
        jaccard = len(shape & first) / len(shape | first) if shape | first else 1.0
        worst = jaccard if worst is None else max(worst, jaccard)
        identical |= rows == first_rows[: len(rows)] and len(rows) == len(first_rows)
    return None if worst is None else (worst, identical)


def lead_repeat(h: Heard) -> float | None:
    """The smallest Jaccard overlap of a later chorus's lead notes (bar, 16th, pitch) with the first's."""
    lead = h.notes.get("lead", [])
    firsts: dict[str, set] = {}
    worst = None
    for start, end, section in h.sections:
        if section.kind not in CHORUS_KINDS or "lead" not in section.active_tracks:
            continue
        shape = {((t - start) // h.bar, round(((t - start) % h.bar) / SIXTEENTH), p) for t, _, p, _ in lead if start <= t < end}
        if section.kind not in firsts:
            firsts[section.kind] = shape
            continue
        first = firsts[section.kind]
        jaccard = len(shape & first) / len(shape | first) if shape | first else 1.0
        worst = jaccard if worst is None else min(worst, jaccard)
    return worst


def drum_profile(h: Heard) -> dict[tuple[int, int], float]:
    rows = h.notes.get("drums", [])
    bars = {t // h.bar for t, *_ in rows}
    counts = Counter((round((t % h.bar) / SIXTEENTH) % 16, p) for t, _, p, _ in rows)
    return {k: v / len(bars) for k, v in counts.items()} if bars else {}


def shared(a: dict, b: dict) -> float:
    keys = a.keys() | b.keys()
    top = sum(max(a.get(k, 0.0), b.get(k, 0.0)) for k in keys)
    return sum(min(a.get(k, 0.0), b.get(k, 0.0)) for k in keys) / top if top else 1.0


def programs(h: Heard) -> bool:
    for part, rows in h.notes.items():
        if part == "drums" or not rows:
            continue
        changes = h.programs.get(part, [])
        if not changes or changes[0][0] > rows[0][0]:
            return False
    return True


# --- one song, all songs ------------------------------------------------------------------------------


def figures(h: Heard) -> dict[str, object]:
    """Every per-song figure (None where it does not apply)."""
    f = feel.of(h.song.intent)
    lead_style = tables().parts.lead[h.song.track("lead").params.style or tables().intent.genres[h.genre].lead]
    spread_ms = spread(h) if f.human_ms > 0 else None
    lock_shares = lock(h) if f.lock else None
    done, total = fills(h)
    kinds, beats = rolls(h)
    chorus = chorus_overlap(h)
    return {
        "genre": h.genre,
        "bpm": h.song.bpm,
        "lead_rhythms": lead_rhythms(h),
        "rests": rests(h) if lead_style.sung else None,
        "cadences": cadences(h),
        "above": above(h),
        "clashes": clashes(h),
        "swing": swing(h),
        "spread_low": spread_ms[0] if spread_ms else None,
        "spread_high": spread_ms[1] if spread_ms else None,
        "hat_accent": hat_accent(h),
        "fills_done": done,
        "fills_total": total,
        "roll_kinds": kinds,
        "roll_beats": beats,
        "lock_bass": lock_shares[0] if lock_shares else None,
        "lock_kick": lock_shares[1] if lock_shares else None,
        "scale_consistency": scale_consistency(h),
        "groove_consistency": groove_consistency(h),
        "chorus_overlap": chorus[0] if chorus else None,
        "chorus_identical": chorus[1] if chorus else None,
        "lead_repeat": lead_repeat(h),
        "bridge_own": bridge_own(h),
        "programs": programs(h),
    }


def compose(prompt: str, seed: int) -> SongState:
    return pipeline.compose_sync(prompt, seed=seed)


def _median(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.median(kept), 3) if kept else None


def _low(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(min(kept), 3) if kept else None


def summary(rows: list[dict[str, object]], songs: dict[tuple[str, int], SongState]) -> dict[str, object]:
    """The figures over all songs, with whether each meets its floor."""
    genre_of = lambda r: r["genre"]  # noqa: E731
    fills_done = sum(r["fills_done"] for r in rows)
    fills_total = sum(r["fills_total"] for r in rows)
    color = [r["scale_consistency"] for r in rows if r["genre"] in COLOR_GENRES]
    trap = [r for r in rows if r["genre"] in ROLL_GENRES]
    bridges = [r["bridge_own"] for r in rows if r["bridge_own"] is not None]
    by_genre: dict[str, list[list[str]]] = {}
    for (prompt, seed), song in songs.items():
        if seed in SEEDS and prompt == tables().intent.genres[song.intent.genre.primary].name:
            by_genre.setdefault(song.intent.genre.primary, []).append(song.progression.symbols())
    pairs = [v for v in by_genre.values() if len(v) >= 2]
    ballads = [r["bpm"] for r in rows if r["genre"] == "ballad"]
    overall = {
        "lead_rhythms": _low(r["lead_rhythms"] for r in rows),
        "lead_rhythms_median": _median(r["lead_rhythms"] for r in rows),
        "rests": _low(r["rests"] for r in rows),
        "cadences": _low(r["cadences"] for r in rows),
        "above": _low(r["above"] for r in rows),
        "clashes": max((r["clashes"] for r in rows if r["clashes"] is not None), default=None),
        "swing": _low(r["swing"] for r in rows),
        "spread_low": _low(r["spread_low"] for r in rows),
        "spread_high": max((r["spread_high"] for r in rows if r["spread_high"] is not None), default=None),
        "hat_accent": _low(r["hat_accent"] for r in rows),
        "fills": round(fills_done / fills_total, 3) if fills_total else None,
        "roll_kinds": min((r["roll_kinds"] for r in trap), default=None),
        "roll_beats": min((r["roll_beats"] for r in trap), default=None),
        "lock_bass": _low(r["lock_bass"] for r in rows),
        "lock_kick": _low(r["lock_kick"] for r in rows),
        "scale_consistency": (_low(color), max(color) if color else None),
        "groove_consistency": (_low(r["groove_consistency"] for r in rows), max((r["groove_consistency"] for r in rows if r["groove_consistency"] is not None), default=None)),
        "chorus_overlap": max((r["chorus_overlap"] for r in rows if r["chorus_overlap"] is not None), default=None),
        "chorus_identical": sum(bool(r["chorus_identical"]) for r in rows),
        "lead_repeat": _low(r["lead_repeat"] for r in rows),
        "bridge_own": round(sum(bridges) / len(bridges), 3) if bridges else None,
        "seeds_differ": round(sum(a != b for a, b, *_ in pairs) / len(pairs), 3) if pairs else None,
        "ballad_bpm": max(ballads, default=None),
        "programs": round(sum(bool(r["programs"]) for r in rows) / len(rows), 3),
    }
    return overall


def identity(songs: dict[tuple[str, int], SongState], heard: dict[tuple[str, int], Heard]) -> dict[str, object]:
    """The most similar pair of genres' drums, per seed."""
    genres = tables().intent.genres
    worst: tuple[float, str, str, int] | None = None
    for seed in SEEDS:
        profiles = {key: drum_profile(heard[(g.name, seed)]) for key, g in genres.items() if (g.name, seed) in heard}
        keys = sorted(profiles)
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                value = shared(profiles[a], profiles[b])
                if worst is None or value > worst[0]:
                    worst = (value, a, b, seed)
    if worst is None:
        return {"genre_overlap": None}
    return {"genre_overlap": round(worst[0], 3), "genre_overlap_pair": [worst[1], worst[2]], "genre_overlap_seed": worst[3]}


def passes(name: str, value: object) -> bool | None:
    if value is None or name not in FLOORS:
        return None
    low, high = FLOORS[name]
    values = value if isinstance(value, tuple) else (value,)
    return all(v is None or ((low is None or v >= low) and (high is None or v <= high)) for v in values)


def measure(case_list: list[tuple[str, int]] | None = None) -> dict[str, object]:
    case_list = case_list or cases()
    started = time.perf_counter()
    songs = {c: compose(*c) for c in case_list}
    heard = {c: hear(s) for c, s in songs.items()}
    rows = [figures(h) for h in heard.values()]
    overall = {**summary(rows, songs), **identity(songs, heard)}
    per_genre: dict[str, dict[str, object]] = {}
    for genre in sorted({r["genre"] for r in rows}):
        mine = [r for r in rows if r["genre"] == genre]
        per_genre[genre] = {
            key: _median(r[key] for r in mine)
            for key in ("lead_rhythms", "rests", "cadences", "above", "clashes", "swing", "spread_low", "spread_high", "hat_accent",
                        "lock_bass", "lock_kick", "scale_consistency", "groove_consistency", "chorus_overlap", "bpm")
        }
        done, total = sum(r["fills_done"] for r in mine), sum(r["fills_total"] for r in mine)
        per_genre[genre]["fills"] = round(done / total, 3) if total else None
    return {
        "benchmark": "music",
        "songs": len(rows),
        "genres": len(per_genre),
        "seconds": round(time.perf_counter() - started, 1),
        "overall": overall,
        "pass": {k: passes(k, v) for k, v in overall.items() if k in FLOORS},
        "floors": FLOORS,
        "per_genre": per_genre,
    }


def report(result: dict) -> str:
    lines = [f"music: {result['songs']} songs over {result['genres']} genres ({result['seconds']} s)"]
    for key, value in result["overall"].items():
        verdict = result["pass"].get(key)
        mark = "" if verdict is None else ("  ok" if verdict else "  FAIL")
        floor = FLOORS.get(key)
        bound = f"  [{floor[0] if floor[0] is not None else ''}..{floor[1] if floor[1] is not None else ''}]" if floor else ""
        lines.append(f"  {key:22} {value}{bound}{mark}")
    return "\n".join(lines)


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser("music", help="musical figures of many genres' songs, read from their MIDI")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sketch", metavar="PROMPT", help="instead, print a few bars of PROMPT's song as a step grid")
    p.add_argument("--seed", type=int, default=1, help="with --sketch: the song's seed")
    p.add_argument("--bar", type=int, default=1, help="with --sketch: the first bar to show (from 1)")
    p.add_argument("--bars", type=int, default=4, help="with --sketch: how many bars")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if args.sketch:
        print(sketch(compose(args.sketch, args.seed), max(0, args.bar - 1), max(1, args.bars)))
        return 0
    result = measure()
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0



# --- a producer's look: a few bars as a step grid -------------------------------------------------------


def sketch(song: SongState, first_bar: int = 0, bars: int = 4) -> str:
    """``bars`` bars from ``first_bar`` as a 16th grid: one row per drum note, bass, chords and lead
    (a note's letter where it starts, lower case for a sharp — "c" is C#; "-" while it sounds, "."
    silence; drum hits X, x, o by velocity)."""
    h = hear(song)
    bar = h.bar
    lo, hi = first_bar * bar, (first_bar + bars) * bar
    cells = bars * 16
    lines = []
    names = {v: k for k, v in tables().parts.drums.gm.items()}
    drums = [n for n in h.notes.get("drums", []) if lo <= n[0] < hi]
    for pitch in sorted({n[2] for n in drums}, reverse=True):
        row = ["."] * cells
        for t, _, p, v in drums:
            if p == pitch:
                i = min(cells - 1, round((t - lo) / SIXTEENTH))
                row[i] = "X" if v >= 100 else "x" if v >= 70 else "o"
        lines.append(f"{names.get(pitch, pitch):>8} " + "|".join("".join(row[k:k + 16]) for k in range(0, cells, 16)))
    for part in ("bass", "chords", "lead"):
        rows = [n for n in h.notes.get(part, []) if lo <= n[0] < hi]
        voices: list[list[str]] = []
        for t, d, p, _ in sorted(rows, key=lambda n: (n[0], -n[2])):
            i = round((t - lo) / SIXTEENTH)
            span = max(1, round(d / SIXTEENTH))
            for row in voices:
                if all(c == " " for c in row[i : i + span]):
                    break
            else:
                row = [" "] * (cells + 4)
                voices.append(row)
            for k in range(span):
                if i + k < cells:
                    row[i + k] = "-" if k else "CcDdEFfGgAaB"[p % 12]
        label = part
        for row in voices[:6 if part == "chords" else 2]:
            lines.append(f"{label:>8} " + "|".join("".join(c if c != " " else "." for c in row[k:k + 16]) for k in range(0, cells, 16)))
            label = ""
    symbols = [f"{c.symbol}@{(s - lo) // SIXTEENTH}" for s, _, c in h.chord_spans if lo <= s < hi]
    return f"{song.intent.prompt!r} seed {song.seed}: {song.intent.genre.primary}, {song.bpm:g} BPM, {song.progression.key.label()}, bars {first_bar + 1}-{first_bar + bars}\n" + "\n".join(lines) + "\n  chords: " + " ".join(symbols)
