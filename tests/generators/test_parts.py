"""Stage 4: the four part generators — determinism, clips, ranges, scale, styles, half time."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from backbeat.engine.time import PPQ
from backbeat.generators import bass as bass_mod
from backbeat.generators import feel, melody
from backbeat.generators.arrangement import arrangement
from backbeat.generators.chords import EIGHTH
from backbeat.generators.grid import sections, style_key
from backbeat.generators.harmony import progression
from backbeat.generators.intent import decompose
from backbeat.generators.model import PartParams, Arrangement, PipelineIntent, Progression, Track
from backbeat.generators.parts import PART_GENERATORS
from backbeat.generators.tables import tables
from backbeat.generators.validation import ONSET_WINDOW
from backbeat.generators.theory import Scale, pitch_class, scale_of

from .songs import NEO_SOUL

BAR = 4 * PPQ
SNARE, CRASH = tables().parts.drums.gm["snare"], tables().parts.drums.gm["crash"]
GHOST_MAX = 60
"""Ghost notes ("o", base 46) stay below this velocity; hits ("x", "X") stay above it."""


@dataclass(frozen=True)
class Context:
    intent: PipelineIntent
    progression: Progression
    arrangement: Arrangement

    @property
    def scale(self) -> Scale:
        return scale_of(self.intent.key.root, self.intent.key.mode)

    def part(self, part: str, seed: int = 1, **overrides) -> Track:
        params = PartParams(**overrides)
        return PART_GENERATORS[part](self.intent, self.progression, self.arrangement, seed=seed, params=params)

    def style(self, part: str) -> str:
        return style_key(self.intent, part, PartParams())


def context(prompt: str, seed: int = 1) -> Context:
    intent = decompose(prompt, seed=seed)
    prog = progression(intent, seed=seed)
    return Context(intent, prog, arrangement(intent, prog))


PROMPTS = (NEO_SOUL, "Frank Ocean meets Burial", "Trap beat, dark, 140 BPM", "Deep house in A minor, 122 BPM, 64 bars", "Funk jam like James Brown, energetic, 110 BPM")


@pytest.fixture(scope="module")
def contexts() -> dict[str, Context]:
    return {p: context(p) for p in PROMPTS}


@pytest.fixture(scope="module")
def neo(contexts) -> Context:
    return contexts[NEO_SOUL]


def rows(track: Track) -> list[tuple[int, int, int, int, int]]:
    return [(c.start_bar, n.tick, n.duration, n.pitch, n.velocity) for c in track.clips for n in c.notes]


# --- every generator ---------------------------------------------------------------------------------


@pytest.mark.parametrize("part", list(PART_GENERATORS))
def test_same_seed_same_part(neo, part):
    assert neo.part(part, seed=7) == neo.part(part, seed=7)


@pytest.mark.parametrize("part", list(PART_GENERATORS))
def test_another_seed_another_part(neo, part):
    assert rows(neo.part(part, seed=7)) != rows(neo.part(part, seed=8))


def test_another_seed_another_melody_and_drum_rhythm(neo):
    lead = [{(r[0], r[1], r[3]) for r in rows(neo.part("lead", seed=s))} for s in (7, 8)]
    assert lead[0] != lead[1]  # pitches or onsets, not only velocities
    hits = [{(r[0], r[1], r[3]) for r in rows(neo.part("drums", seed=s))} for s in (7, 8)]
    assert hits[0] != hits[1]


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("part", list(PART_GENERATORS))
def test_one_clip_per_active_section_and_notes_inside_it(contexts, prompt, part):
    ctx = contexts[prompt]
    track = ctx.part(part)
    arr = ctx.arrangement
    active = [i for i, s in enumerate(arr.sections) if part in s.active_tracks]
    assert [c.section for c in track.clips] == active
    starts = arr.start_bars()
    for c in track.clips:
        assert (c.start_bar, c.bars) == (starts[c.section], arr.sections[c.section].bars)
        assert c.notes, (part, arr.sections[c.section].name)
        assert [(n.tick, n.pitch) for n in c.notes] == sorted((n.tick, n.pitch) for n in c.notes)
        last_end: dict[int, int] = {}
        for n in c.notes:
            assert 0 <= n.tick and n.duration >= 1 and n.tick + n.duration <= c.bars * BAR, (part, n)
            assert last_end.get(n.pitch, 0) <= n.tick, (part, "same-pitch overlap", n)
            last_end[n.pitch] = n.tick + n.duration


@pytest.mark.parametrize("part", list(PART_GENERATORS))
def test_channels_and_names_come_from_the_parts_table(neo, part):
    track = neo.part(part)
    spec = tables().parts.parts[part]
    assert (track.part, track.name, track.channel, track.group) == (part, spec.name, spec.channel, spec.group)
    assert (track.channel == 10) == (part == "drums")


# --- drums ----------------------------------------------------------------------------------------------


def test_drums_use_only_gm_notes_of_the_table_on_channel_10(contexts):
    gm = set(tables().parts.drums.gm.values())
    for ctx in contexts.values():
        for style in tables().parts.drums.styles:
            track = ctx.part("drums", style=style)
            assert track.channel == 10
            assert {n.pitch for c in track.clips for n in c.notes} <= gm, style


def _near(ticks: set[int], wanted: set[int], window: int = ONSET_WINDOW) -> bool:
    return all(any(abs(t - w) <= window for t in ticks) for w in wanted)


def test_drum_style_override(neo):
    house = neo.part("drums", style="house")
    assert rows(house) != rows(neo.part("drums"))
    kick = tables().parts.drums.gm["kick"]
    for c, section in ((c, neo.arrangement.sections[c.section]) for c in house.clips):
        first = section.enters.get("drums", 0) * BAR
        if first == (section.bars - 1) * BAR and section.enters:
            continue  # a pickup bar plays a fill, not the groove
        kicks = {n.tick - first for n in c.notes if n.pitch == kick and first - ONSET_WINDOW <= n.tick < first + BAR}
        assert _near(kicks, {0, PPQ, 2 * PPQ, 3 * PPQ}), (section.name, sorted(kicks))  # four on the floor


def test_drums_get_denser_and_louder_with_energy(contexts):
    ctx = contexts["Deep house in A minor, 122 BPM, 64 bars"]
    track = ctx.part("drums")
    by_energy = sorted(track.clips, key=lambda c: ctx.arrangement.sections[c.section].energy)
    low, high = by_energy[0], by_energy[-1]
    assert ctx.arrangement.sections[high.section].energy > ctx.arrangement.sections[low.section].energy
    assert len(high.notes) / high.bars > len(low.notes) / low.bars
    mean = lambda c: sum(n.velocity for n in c.notes) / len(c.notes)  # noqa: E731
    assert mean(high) > mean(low)


def test_a_rise_in_energy_is_marked_with_a_crash(contexts):
    for ctx in contexts.values():
        secs = ctx.arrangement.sections
        for c in ctx.part("drums").clips:
            s, prev = secs[c.section], secs[c.section - 1] if c.section else None
            crash = any(n.pitch == CRASH and n.tick <= ONSET_WINDOW for n in c.notes)
            rises = s.energy >= 0.7 if prev is None else s.energy > prev.energy + 0.05 and s.energy >= 0.5
            assert crash == (rises and tables().parts.drums.styles[ctx.style("drums")].crash), s.name


def _backbeats(track: Track, arr: Arrangement) -> list[set[int]]:
    """Snare hits (not ghosts or flams) per bar, to the nearest eighth within the bar, leaving out
    each section's fill bar and each phrase's turnaround bar."""
    bars = []
    for c in track.clips:
        for b in range(c.bars):
            if b == c.bars - 1 or b % 4 == 3:
                continue
            hits = [n.tick - b * BAR for n in c.notes if n.pitch == SNARE and n.velocity > GHOST_MAX and b * BAR - ONSET_WINDOW <= n.tick < (b + 1) * BAR - ONSET_WINDOW]
            bars.append({round(t / (PPQ // 2)) * (PPQ // 2) for t in hits})
    return bars


def test_half_time_puts_the_backbeat_on_beat_3(contexts):
    ctx = contexts["Frank Ocean meets Burial"]
    assert ctx.intent.tempo.half_time
    bars = [b for b in _backbeats(ctx.part("drums"), ctx.arrangement) if b]
    assert bars and all(hits == {2 * PPQ} for hits in bars), bars


def test_straight_time_puts_the_backbeat_on_2_and_4(neo):
    assert not neo.intent.tempo.half_time
    bars = [b for b in _backbeats(neo.part("drums"), neo.arrangement) if b]
    assert bars and all(b == {PPQ, 3 * PPQ} for b in bars), bars


def test_drum_ghost_notes_are_quiet(contexts):
    ctx = contexts["Frank Ocean meets Burial"]
    snares = [n.velocity for c in ctx.part("drums").clips for n in c.notes if n.pitch == SNARE]
    assert any(v <= GHOST_MAX for v in snares) and any(v > GHOST_MAX + 15 for v in snares)


# --- bass -----------------------------------------------------------------------------------------------


HIGH_ROOTS = [  # songs whose chords put bass roots at the top of the root zone
    ("Synthwave, nostalgic eighties night drive", 3),
    ("pop, 64 bars, 4 tracks", 2),
    ("Gospel chords, spiritual and uplifting, in Ab major", 2),
    ("Something warm", 3),
]


def test_bass_stays_in_its_range_in_every_style(contexts):
    low, high = tables().parts.parts["bass"].pitch_range
    cases = [*contexts.items(), *((f"{p} (seed {s})", context(p, s)) for p, s in HIGH_ROOTS)]
    for prompt, ctx in cases:
        for style in tables().parts.bass:
            pitches = {n.pitch for c in ctx.part("bass", style=style).clips for n in c.notes}
            assert low <= min(pitches) and max(pitches) <= high, (prompt, style, sorted(pitches))


def test_bass_sounds_the_chords_bass_note_on_every_change(contexts):
    for prompt, ctx in contexts.items():
        for style in tables().parts.bass:
            track = ctx.part("bass", style=style)
            for grid, clip in zip(sections(ctx.arrangement, ctx.progression, "bass"), track.clips, strict=True):
                for span in grid.spans:
                    wanted = pitch_class(span.chord.bass or span.chord.root)
                    near = {n.pitch % 12 for n in clip.notes if abs(n.tick - span.start) <= ONSET_WINDOW}
                    assert wanted in near, (prompt, style, grid.section.name, span.start)


def test_bass_style_and_density_overrides(neo):
    default = neo.part("bass")
    sub = neo.part("bass", style="sub")
    assert rows(sub) != rows(default)
    pattern = tables().parts.bass["rock"]
    rock = neo.part("bass", style="rock")
    step = BAR // pattern.steps
    off_grid = [n.tick for c in rock.clips for n in c.notes if min(n.tick % step, step - n.tick % step) > ONSET_WINDOW]
    assert not off_grid  # on the rock pattern's eighths, give or take the feel
    sparse, busy = neo.part("bass", density=0.0), neo.part("bass", density=1.0)
    count = lambda t: sum(len(c.notes) for c in t.clips)  # noqa: E731
    assert count(sparse) < count(busy)


def test_a_locked_bass_plays_with_the_kick(contexts):
    ctx = contexts["Trap beat, dark, 140 BPM"]
    assert feel.of(ctx.intent).lock
    kick = tables().parts.drums.gm["kick"]
    drums, bass = ctx.part("drums"), ctx.part("bass")
    both = {c.section for c in drums.clips} & {c.section for c in bass.clips}
    for d, b in ((d, b) for d in drums.clips for b in bass.clips if d.section == b.section and d.section in both):
        kicks = {n.tick for n in d.notes if n.pitch == kick}
        notes = {n.tick for n in b.notes}
        assert sum(t in kicks for t in notes) >= 0.85 * len(notes)
        assert sum(k in notes for k in kicks) >= 0.7 * len(kicks)


# --- chords ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", PROMPTS)
def test_chords_play_the_progressions_voicings(contexts, prompt):
    ctx = contexts[prompt]
    track = ctx.part("chords")
    for grid, clip in zip(sections(ctx.arrangement, ctx.progression, "chords"), track.clips, strict=True):
        with_bass = "bass" not in grid.section.active_tracks
        for n in clip.notes:
            # the chord the note belongs to: the one it sounds in, or the next when it anticipates it
            here = [s for s in grid.spans if s.start - EIGHTH - ONSET_WINDOW <= n.tick < s.end]
            allowed = [s for s in here if n.pitch % 12 in {p % 12 for p in (s.chord.notes if with_bass else s.chord.notes[1:])}]
            assert allowed, (prompt, grid.section.name, n, [s.chord.symbol for s in here])
            assert any(n.tick + n.duration <= s.end + ONSET_WINDOW for s in allowed)  # never held across a change


def test_the_top_voice_of_a_chord_is_its_loudest(neo):
    for c in neo.part("chords").clips:
        at: dict[int, list] = {}
        for n in c.notes:
            at.setdefault(n.tick, []).append(n)
        groups = [g for g in at.values() if len(g) >= 3]
        assert groups
        assert sum(max(g, key=lambda n: n.pitch).velocity == max(n.velocity for n in g) for g in groups) >= 0.9 * len(groups)


def test_a_repeated_section_is_the_same_chords_never_a_copy():
    ctx = context("pop, 64 bars, 4 tracks")
    track = ctx.part("chords")
    choruses = [c for c in track.clips if ctx.arrangement.sections[c.section].kind == "chorus"]
    assert len(choruses) >= 2
    shape = lambda c: {(n.tick // 120, n.pitch % 12) for n in c.notes}  # noqa: E731
    for later in choruses[1:]:
        assert later.notes != choruses[0].notes
        assert len(shape(later) & shape(choruses[0])) >= 0.5 * len(shape(choruses[0]))


def test_chord_style_override_arp_plays_one_note_at_a_time(neo):
    arp = neo.part("chords", style="arp")
    assert rows(arp) != rows(neo.part("chords"))
    for c in arp.clips:
        ticks = [n.tick for n in c.notes]
        assert len(ticks) == len(set(ticks))


# --- lead ------------------------------------------------------------------------------------------------


def test_lead_is_in_key_and_range_in_every_style(contexts):
    low, high = tables().parts.parts["lead"].pitch_range
    for prompt, ctx in contexts.items():
        for style in tables().parts.lead:
            for seed in (1, 2, 3):
                track = ctx.part("lead", seed=seed, style=style)
                pitches = [n.pitch for c in track.clips for n in c.notes]
                assert pitches, (prompt, style)
                for grid, clip in zip(sections(ctx.arrangement, ctx.progression, "lead"), track.clips, strict=True):
                    for n in clip.notes:
                        chords = [s.chord for s in grid.spans if s.start < n.tick + n.duration and s.end > n.tick - ONSET_WINDOW]
                        assert ctx.scale.contains(n.pitch) or any(n.pitch % 12 in melody.chord_tones(c) for c in chords), (prompt, style, seed, n)
                assert low <= min(pitches) and max(pitches) <= high, (prompt, style, seed, min(pitches), max(pitches))


@pytest.mark.parametrize("prompt", PROMPTS)
def test_lead_states_a_motif_and_varies_it(contexts, prompt):
    ctx = contexts[prompt]
    bars: dict[int, frozenset[int]] = {}
    for c in ctx.part("lead").clips:
        for n in c.notes:
            bar, within = divmod(c.start_bar * BAR + n.tick, BAR)
            bars[bar] = bars.get(bar, frozenset()) | {round(within / (BAR // 16))}
    rhythms = list(bars.values())
    assert len(set(rhythms)) >= 0.3 * len(rhythms), prompt  # varied ...
    assert max(rhythms.count(r) for r in set(rhythms)) >= 2, prompt  # ... yet something returns


def test_a_sung_lead_breathes_and_ends_its_phrases_on_long_chord_tones(neo):
    assert tables().parts.lead[neo.style("lead")].sung
    for grid, clip in zip(sections(neo.arrangement, neo.progression, "lead"), neo.part("lead").clips, strict=True):
        notes = sorted(clip.notes, key=lambda n: n.tick)
        gaps = [b.tick - (a.tick + a.duration) for a, b in zip(notes, notes[1:])]
        assert sum(g >= PPQ for g in gaps) + (grid.length - notes[-1].tick - notes[-1].duration >= PPQ) >= grid.section.bars // 4
        last = notes[-1]
        span = max(grid.spans, key=lambda s: min(s.end, last.tick + last.duration) - max(s.start, last.tick))
        assert last.pitch % 12 in melody.chord_tones(span.chord) and last.duration >= 420


def test_lead_style_override(neo):
    ambient = neo.part("lead", style="ambient")
    default = neo.part("lead")
    assert rows(ambient) != rows(default)
    mean = lambda t: sum(n.duration for c in t.clips for n in c.notes) / sum(len(c.notes) for c in t.clips)  # noqa: E731
    assert mean(ambient) > mean(default)  # long tones


def test_bass_module_root_zone_is_inside_the_bass_range():
    low, high = tables().parts.parts["bass"].pitch_range
    assert low <= bass_mod.ROOT_ZONE[0] and bass_mod.ROOT_ZONE[1] <= high
