"""Stage 4: the four part generators — determinism, clips, ranges, scale, styles, half time."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from backbeat.engine.time import PPQ
from backbeat.generators import bass as bass_mod
from backbeat.generators import melody
from backbeat.generators.arrangement import arrangement
from backbeat.generators.grid import sections
from backbeat.generators.harmony import progression
from backbeat.generators.intent import decompose
from backbeat.generators.model import PartParams, Arrangement, PipelineIntent, Progression, Track
from backbeat.generators.pipeline import PART_GENERATORS
from backbeat.generators.rng import stream
from backbeat.generators.tables import tables
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


def _kick_beats(track: Track) -> set[int]:
    kick = tables().parts.drums.gm["kick"]
    return {n.tick for c in track.clips for n in c.notes if n.pitch == kick and n.tick < BAR}


def test_drum_style_override(neo):
    house = neo.part("drums", style="house")
    assert rows(house) != rows(neo.part("drums"))
    assert {0, PPQ, 2 * PPQ, 3 * PPQ} <= _kick_beats(house)  # four on the floor in every first bar
    for c in house.clips:
        assert {0, PPQ, 2 * PPQ, 3 * PPQ} <= {n.tick for n in c.notes if n.pitch == 36 and n.tick < BAR}


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
            crash = any(n.pitch == CRASH and n.tick == 0 for n in c.notes)
            assert crash == (s.energy >= 0.7 and (prev is None or prev.energy < s.energy - 0.1)), s.name


def _backbeats(track: Track, arr: Arrangement) -> list[set[int]]:
    """Snare hits (not ghosts) per bar, as ticks within the bar, leaving out the fill bar of each section."""
    bars = []
    for c in track.clips:
        last_bar = c.bars - 1 if c.section < len(arr.sections) - 1 else c.bars
        for b in range(c.bars):
            if b == last_bar:
                continue
            bars.append({n.tick - b * BAR for n in c.notes if n.pitch == SNARE and n.velocity > GHOST_MAX and b * BAR <= n.tick < (b + 1) * BAR})
    return bars


def test_half_time_puts_the_backbeat_on_beat_3(contexts):
    ctx = contexts["Frank Ocean meets Burial"]
    assert ctx.intent.tempo.half_time
    bars = _backbeats(ctx.part("drums"), ctx.arrangement)
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
                onsets = {}
                for n in clip.notes:
                    onsets.setdefault(n.tick, set()).add(n.pitch % 12)
                for span in grid.spans:
                    wanted = pitch_class(span.chord.bass or span.chord.root)
                    assert wanted in onsets.get(span.start, set()), (prompt, style, grid.section.name, span.start)


def test_bass_style_and_density_overrides(neo):
    default = neo.part("bass")
    sub = neo.part("bass", style="sub")
    assert rows(sub) != rows(default)
    pattern = tables().parts.bass["rock"]
    rock = neo.part("bass", style="rock")
    step = BAR // pattern.steps
    assert all(n.tick % step == 0 for c in rock.clips for n in c.notes)
    sparse, busy = neo.part("bass", density=0.0), neo.part("bass", density=1.0)
    count = lambda t: sum(len(c.notes) for c in t.clips)  # noqa: E731
    assert count(sparse) < count(busy)


# --- chords ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", PROMPTS)
def test_chords_play_the_progressions_voicings(contexts, prompt):
    ctx = contexts[prompt]
    track = ctx.part("chords")
    for grid, clip in zip(sections(ctx.arrangement, ctx.progression, "chords"), track.clips, strict=True):
        with_bass = "bass" not in grid.section.active_tracks
        for n in clip.notes:
            span = next(s for s in grid.spans if s.start <= n.tick < s.end)
            allowed = span.chord.notes if with_bass else span.chord.notes[1:]
            assert n.pitch in allowed, (prompt, grid.section.name, n, span.chord.symbol)
            assert n.tick + n.duration <= span.end  # never held across a chord change


def test_chord_style_override_arp_plays_one_note_at_a_time(neo):
    arp = neo.part("chords", style="arp")
    assert rows(arp) != rows(neo.part("chords"))
    for c in arp.clips:
        ticks = [n.tick for n in c.notes]
        assert len(ticks) == len(set(ticks))


# --- lead ------------------------------------------------------------------------------------------------


def test_lead_is_in_scale_and_range_in_every_style(contexts):
    low, high = tables().parts.parts["lead"].pitch_range
    for prompt, ctx in contexts.items():
        for style in tables().parts.lead:
            for seed in (1, 2, 3):
                pitches = [n.pitch for c in ctx.part("lead", seed=seed, style=style).clips for n in c.notes]
                assert pitches, (prompt, style)
                assert all(ctx.scale.contains(p) for p in pitches), (prompt, style, seed)
                assert low <= min(pitches) and max(pitches) <= high, (prompt, style, seed, min(pitches), max(pitches))


@pytest.mark.parametrize("prompt", PROMPTS)
def test_lead_repeats_one_motif_rhythm(contexts, prompt):
    ctx = contexts[prompt]
    key = tables().intent.genres[ctx.intent.genre.primary].lead
    style = tables().parts.lead[key]
    motif = melody.motif(style, stream(1, "lead", key, "motif"), style.density)
    step = BAR * (2 if ctx.intent.tempo.half_time else 1) // melody.STEPS
    length = motif.bars * melody.STEPS * step
    offsets = {o for o, _ in motif.onsets}
    seen = set()
    for c in ctx.part("lead").clips:
        for n in c.notes:
            assert n.tick % step == 0 and (n.tick % length) // step in offsets, (prompt, n)
            seen.add(n.tick // length)
    assert len(seen) > 1  # the motif is stated more than once


def test_lead_style_override(neo):
    ambient = neo.part("lead", style="ambient")
    assert rows(ambient) != rows(neo.part("lead"))
    cells = tables().parts.lead["ambient"].cells
    onsets = {i * (BAR // 16) for cell in cells for i, ch in enumerate(cell) if ch == "x"}
    assert all(n.tick % BAR in onsets for c in ambient.clips for n in c.notes)


def test_bass_module_root_zone_is_inside_the_bass_range():
    low, high = tables().parts.parts["bass"].pitch_range
    assert low <= bass_mod.ROOT_ZONE[0] and bass_mod.ROOT_ZONE[1] <= high
