"""Turning answers into valid values, without a server: intent hints enriched by the rules, chords
read from symbols and numerals, arrangements fitted, clips repaired, catalog names and tempo-synced
times checked; and the context hierarchy the prompts are built from."""

from __future__ import annotations

import pytest

from backbeat.engine.time import ms_per_note
from backbeat.generators import context, grid, pipeline, validation
from backbeat.generators.harmony import OUT_BUDGET
from backbeat.generators.intent import decompose
from backbeat.generators.llm import repair
from backbeat.generators.llm.clips import RawNote, complete_bars, from_bars, repaired
from backbeat.generators.llm.errors import RepairError
from backbeat.generators.llm.schemas import (
    ArrangementAnswer,
    ArtistAnswer,
    ChordAnswer,
    HarmonyAnswer,
    IntentAnswer,
    SectionAnswer,
    effect_answer,
    preset_answer,
)
from backbeat.generators.model import ClipContext, GroupContext, ProjectContext, TrackContext
from backbeat.generators.tables import tables
from backbeat.generators.theory import scale_of


@pytest.fixture(scope="module")
def draft():
    return pipeline.compose(pipeline.new_draft("neo soul, Eb minor, 90 BPM", seed=4, bars=16))


# --- intent -----------------------------------------------------------------------------------------------


def test_an_unknown_artist_is_placed_through_the_genre_the_model_names():
    prompt = "late at night: Zyxo Quell meets Burial"
    answer = IntentAnswer(artists=[ArtistAnswer(name="Zyxo Quell", genre="trap"), ArtistAnswer(name="Burial", genre="uk garage")])
    intent = decompose(prompt, seed=1, hints=repair.intent_hints(answer, prompt))
    assert [(i.name, i.genre_mapping) for i in intent.influences] == [("Zyxo Quell", "trap"), ("Burial", "uk-garage")]
    assert intent.genre.primary == "trap" and intent.influences[0].weight > intent.influences[1].weight
    assert not [a for a in intent.ambiguities if "Zyxo" in a]
    alone = decompose(prompt, seed=1)
    assert [i.name for i in alone.influences] == ["Burial"] and any("Zyxo" in a for a in alone.ambiguities)


def test_the_prompts_own_words_win_and_the_rest_is_inferred():
    prompt = "Frank Ocean meets Burial, 128 BPM"
    answer = IntentAnswer(artists=[ArtistAnswer(name="Frank Ocean")], tempo_bpm=90, moods=["melancholic"])
    intent = decompose(prompt, seed=2, hints=repair.intent_hints(answer, prompt))
    assert intent.tempo.bpm == 128 and intent.tempo.confidence == "explicit"
    assert "melancholy" in intent.mood


def test_what_the_prompt_states_in_other_words_is_read_from_the_model():
    prompt = "frank ocaen, sixteen bars: intro verse outro, in f sharp dorian, 12 bars"
    answer = IntentAnswer(artists=[ArtistAnswer(name="Frank Ocean")], key="F# dorian", bars=12,
                          sections=["intro", "verse", "outro"])
    hints = repair.intent_hints(answer, prompt)
    assert [m.key for m in hints.mentions if m.kind == "artist"] == ["Frank Ocean"]  # the misspelling it corrected
    assert hints.bars == 12 and [m.key for m in hints.mentions if m.kind == "section"] == ["intro", "verse", "outro"]


def test_invented_facts_are_dropped():
    prompt = "late-night vibes"
    answer = IntentAnswer(artists=[ArtistAnswer(name="Toni Lanoille", genre="jazz"), ArtistAnswer(name="Burial", genre="uk garage")],
                          genres=["jazz", "french jazz"], tempo_bpm=97, key="F# dorian", bars=12,
                          sections=["intro", "verse", "outro"], half_time=True, outputs=["playback"])
    hints = repair.intent_hints(answer, prompt)
    assert (hints.mentions, hints.guesses) == ((), ())
    assert (hints.bpm, hints.root, hints.mode, hints.bars, hints.half_time) == (None, None, None, None, False)
    assert decompose(prompt, seed=3, hints=hints) == decompose(prompt, seed=3)


def test_half_time_and_nonsense_values_from_the_model():
    answer = IntentAnswer(tempo_bpm=9000, key="H lydian-ish", bars=0, half_time=True, genres=["not a genre"])
    prompt = "house music at 9000 BPM, half-time, key of H lydian-ish, 0 bars"
    hints = repair.intent_hints(answer, prompt)
    assert (hints.bpm, hints.root, hints.mode, hints.bars, hints.half_time) == (None, None, None, None, True)


# --- harmony ----------------------------------------------------------------------------------------------


def test_symbols_numerals_and_junk(draft):
    answer = HarmonyAnswer(chords=[
        ChordAnswer(symbol="Ebm9", beats=4), ChordAnswer(degree="bVImaj7", beats=4), ChordAnswer(symbol="H7"),
        ChordAnswer(symbol="banana"), ChordAnswer(degree="iv7", beats=2.4), ChordAnswer(symbol="Bbm7/Db", beats=2),
    ])
    p = repair.progression(answer, draft.intent)
    assert p.symbols() == ["Ebm9", "Cbmaj7", "Abm7", "Bbm7/Db"]
    assert [c.beats for c in p.chords] == [4, 4, 2, 2]
    assert [c.degree for c in p.chords] == ["i9", "VImaj7", "iv7", "v7"]
    assert all(c.notes == sorted(set(c.notes)) for c in p.chords)


def test_at_most_sixteen_chords_and_none_is_an_error(draft):
    many = HarmonyAnswer(chords=[ChordAnswer(degree=d) for d in ["i", "iv", "v", "VI"] * 6])
    assert len(repair.progression(many, draft.intent).chords) == 16
    with pytest.raises(RepairError):
        repair.progression(HarmonyAnswer(chords=[ChordAnswer(symbol="xyz")]), draft.intent)


def test_an_out_of_key_progression_is_snapped_within_the_budget(draft):
    answer = HarmonyAnswer(chords=[ChordAnswer(symbol=s) for s in ["E", "A", "B7", "C#m"]])  # E major in Eb minor
    p = repair.progression(answer, draft.intent)
    scale = scale_of(draft.intent.key.root, draft.intent.key.mode)
    tones = [(n % 12, c.beats) for c in p.chords for n in c.notes[1:]]
    out = sum(b for t, b in tones if t not in scale.pitch_classes) / sum(b for _, b in tones)
    assert out <= max(OUT_BUDGET, tables().intent.genres[draft.intent.genre.primary].harmony.budget)  # the genre's colour


# --- arrangement --------------------------------------------------------------------------------------------


def test_sections_are_mapped_and_fitted_to_the_exact_length(draft):
    answer = ArrangementAnswer(sections=[
        SectionAnswer(kind="Intro", bars=3, energy=2.0, transition="swoosh", tracks=["keys", "drum"]),
        SectionAnswer(kind="pre-chorus", bars=5, harmony="second-half"),
        SectionAnswer(kind="Chorus 1", bars=9, energy=0.9, tracks=["bass", "lead", "kazoo"]),
        SectionAnswer(kind="kazoo", bars=4),
    ])
    a = repair.arrangement(answer, draft.intent, draft.progression)
    assert a.total_bars == draft.intent.duration.total_bars == 16
    assert [s.kind for s in a.sections] == ["intro", "pre", "chorus"]
    intro = a.sections[0]
    assert intro.energy == 1.0 and intro.transition == "cut" and intro.active_tracks == ["chords", "drums"]
    assert a.sections[2].active_tracks == ["bass", "lead"]
    with pytest.raises(RepairError):
        repair.arrangement(ArrangementAnswer(sections=[SectionAnswer(kind="kazoo", bars=4)]), draft.intent, draft.progression)


# --- clips ------------------------------------------------------------------------------------------------------


def grid_of(draft, part):
    return next(grid.sections(draft.arrangement, draft.progression, part))


def test_drum_lanes_positions_and_missing_lengths(draft):
    g = grid_of(draft, "drums")
    raw = [RawNote(0, None, "kick", None), RawNote(247, None, "Hi-Hat", 300), RawNote(480, 60, 99, 80),
           RawNote(g.length + 10, None, "snare", 90), RawNote(960, None, "cowbell-ish", 90)]
    clip = repaired("drums", raw, g, scale_of("Eb", "minor"), source="llm")
    gm = tables().parts.drums.gm
    assert [(n.tick, n.pitch, n.velocity, n.duration) for n in clip.notes] == [
        (0, gm["kick"], 100, 60), (240, gm["hat"], 127, 60), (480, max(gm.values()), 80, 60)]


def test_pitched_notes_are_moved_into_range_and_key_and_overlaps_removed(draft):
    g = grid_of(draft, "bass")
    scale = scale_of("Eb", "minor")
    raw = [RawNote(0, 2000, 15, 90), RawNote(0, 100, 64 + 24, 90), RawNote(480, 480, "E2", 90), RawNote(480, 480, "E2", 70),
           RawNote(600, 480, 1000, 90)]
    clip = repaired("bass", raw, g, scale, source="llm")
    low, high = tables().parts.parts["bass"].pitch_range
    chord = {n % 12 for n in g.spans[0].chord.notes}
    assert all(low <= n.pitch <= high for n in clip.notes)
    assert all(n.pitch % 12 in scale.pitch_classes | chord for n in clip.notes)
    assert len([n for n in clip.notes if n.tick == 480]) == 1
    song = draft.song()
    fixed = song.model_copy(update={"tracks": [t.model_copy(update={"clips": [clip if c.section == clip.section else c for c in t.clips]}) if t.part == "bass" else t for t in song.tracks]})
    assert validation.problems(fixed) == []


def test_zero_based_bars_and_beats_are_understood(draft):
    from backbeat.generators.llm.schemas import BarAnswer, NoteAnswer

    bars = [BarAnswer(bar=0, notes=[NoteAnswer(beat=0, pitch=36)]), BarAnswer(bar=1, notes=[NoteAnswer(beat=2.5, pitch=38)])]
    assert [(n.tick, n.pitch) for n in from_bars(bars, 1920, 480)] == [(0, 36), (1920 + 1200, 38)]


def test_finished_bars_of_a_partial_answer():
    partial = {"bars": [{"bar": 1, "notes": [{"beat": 1, "pitch": 36}]}, {"bar": 2, "notes": [{"beat": 1}]}]}
    assert [b.bar for b in complete_bars(partial)] == [1]
    assert complete_bars({"bars": []}) == [] and complete_bars(None) == []


def test_a_clip_with_nothing_placeable_is_an_error(draft):
    with pytest.raises(RepairError):
        repaired("lead", [RawNote(0, 100, "la", 90)], grid_of(draft, "lead"), scale_of("Eb", "minor"), source="llm")


# --- sound -------------------------------------------------------------------------------------------------------


def test_catalog_names_are_an_enum_and_unfit_instruments_are_replaced(draft):
    schema = preset_answer()
    with pytest.raises(ValueError):
        schema.model_validate({"tracks": [{"part": "bass", "instrument": "Serum"}]})
    answer = schema.model_validate({"tracks": [
        {"part": "bass", "instrument": "Drum program (factory kit from the MPC Beats sound library)"},
        {"part": "keys", "instrument": "Electric", "reason": "warm Rhodes for neo soul"},
    ]})
    tracks, kept = repair.presets(answer, draft.intent, draft.tracks)
    assert sorted(kept) == ["bass", "drums", "lead"]
    chords = next(t for t in tracks if t.part == "chords")
    assert chords.preset.instrument == "Electric" and chords.preset.reason == "warm Rhodes for neo soul"


def test_times_that_follow_the_tempo_are_recomputed_never_taken(draft):
    bpm = draft.intent.tempo.bpm
    answer = effect_answer().model_validate({"chains": [{"part": "lead", "effects": [{
        "effect": "Delay Ping Pong", "params": [
            {"name": "Time", "value": 123.0, "unit": "ms", "synced_to": "1/8 dotted"},
            {"name": "Delay Time", "value": 331.0, "unit": "ms"},
            {"name": "Feedback", "value": 35, "unit": "%"},
        ]}]}]})
    tracks, kept = repair.effects(answer, draft.intent, draft.tracks)
    params = next(t for t in tracks if t.part == "lead").effects[0].params
    assert params[0].value == round(ms_per_note(bpm, 0.1875), 1) and params[0].synced_to == "1/8 dotted"
    assert params[1].synced_to == "1/8" and params[1].value == round(ms_per_note(bpm, 0.125), 1)  # 333 ms at 90 BPM
    assert (params[2].value, params[2].unit, params[2].synced_to) == (35, "%", None)
    assert sorted(kept) == ["bass", "chords", "drums"]


def test_effect_parameters_and_prose_are_checked_against_the_tables(draft):
    answer = effect_answer().model_validate({"chains": [{"part": "bass", "effects": [{
        "effect": "Compressor Opto", "purpose": "EB_MUS_ESPNED 897 TRUEVALU", "params": [
            {"name": "EB_MUS_ESPNED", "value": 897, "unit": "TRUEVALU"},
            {"name": "threshold", "value": -400, "unit": "dB"},
            {"name": "Ratio", "value": 4, "unit": "%"},
        ]}]}]})
    tracks, _ = repair.effects(answer, draft.intent, draft.tracks)
    slot = next(t for t in tracks if t.part == "bass").effects[0]
    assert [(p.name, p.value, p.unit) for p in slot.params] == [("Threshold", -80.0, "dB"), ("Ratio", 4.0, "ratio")]
    assert slot.purpose == next(e for e in tables().catalog.effects if e.name == "Compressor Opto").description


# --- context ----------------------------------------------------------------------------------------------------------


def test_the_context_hierarchy_is_built_from_a_draft_and_round_trips(draft):
    values = [context.project(draft), *context.groups(draft), *(context.track(draft, t.part) for t in draft.tracks)]
    values += [context.clip(draft, t.part, c.section) for t in draft.tracks for c in t.clips]
    assert {type(v) for v in values} == {ProjectContext, GroupContext, TrackContext, ClipContext}
    for value in values:
        assert type(value).model_validate_json(value.model_dump_json()) == value
    project = context.project(draft)
    assert (project.key, project.tempo, project.meter) == ("Eb minor", 90.0, "4/4")
    early = draft.model_copy(update={"progression": None, "arrangement": None, "tracks": []})
    assert context.project(early).sections == [] and context.group(early, "rhythm").tracks == ["Drums", "Bass"]
    assert context.track(early, "drums").channel == 10
