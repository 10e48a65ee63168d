"""Stage 1: a prompt becomes a PipelineIntent (seed task 6.1) — the seed's three cases and every
value the prompt can state (tempo, key, bars, sections, arc, outputs) or leave to inference."""

from __future__ import annotations

import json

import pytest

from backbeat.generators.errors import BadRequestError
from backbeat.generators.intent import DEFAULT_OUTPUTS, MAX_PROMPT, decompose, explicit_bars, explicit_key
from backbeat.generators.model import GenreDNA, PipelineIntent
from backbeat.generators.tables import tables


def genres():
    return tables().intent.genres


def artist(name: str):
    return next(a for a in tables().intent.artists if a.name == name)


# --- the seed's three test cases -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_trap_beat_dark_140_bpm(seed):
    intent = decompose("Trap beat, dark, 140 BPM", seed=seed)
    assert intent.genre.primary == "trap"
    assert intent.genre.secondary is None and intent.genre.blend_weights == (1.0, 0.0)
    assert "dark" in intent.mood
    assert (intent.tempo.bpm, intent.tempo.confidence) == (140, "explicit")
    assert tables().theory.scales[intent.key.mode].minor, intent.key
    assert intent.key.confidence == "inferred"
    assert intent.ambiguities == []


def test_frank_ocean_meets_burial():
    intent = decompose("Frank Ocean meets Burial", seed=1)
    assert [(i.name, i.genre_mapping, i.weight) for i in intent.influences] == [
        ("Frank Ocean", "neo-soul", 0.6),
        ("Burial", "uk-garage", 0.4),
    ]
    assert (intent.genre.primary, intent.genre.secondary) == ("neo-soul", "uk-garage")
    assert intent.genre.blend_weights == (0.6, 0.4)
    assert intent.mood == []
    assert intent.ambiguities == []


@pytest.mark.parametrize("seed", range(6))
def test_frank_ocean_meets_burial_is_half_time_where_the_tempo_ranges_meet(seed):
    tempo = decompose("Frank Ocean meets Burial", seed=seed).tempo
    assert 125 <= tempo.bpm <= 136
    assert tempo.half_time is True and tempo.confidence == "inferred"
    # the clock is Burial's tempo, the felt half-time tempo is Frank Ocean's
    frank, burial = artist("Frank Ocean").tempo, artist("Burial").tempo
    assert burial[0] <= tempo.bpm <= burial[1]
    assert frank[0] <= tempo.bpm / 2 <= frank[1]


def test_frank_ocean_meets_burial_dna_is_the_weighted_blend():
    dna = decompose("Frank Ocean meets Burial", seed=1).genre.dna_vector
    soul, garage = genres()["neo-soul"].dna, genres()["uk-garage"].dna
    for field in GenreDNA.model_fields:  # no mood words in the prompt, so no nudges
        expected = 0.6 * getattr(soul, field) + 0.4 * getattr(garage, field)
        assert getattr(dna, field) == pytest.approx(expected, abs=1e-4), field


def test_mood_words_nudge_the_blend():
    plain = decompose("Frank Ocean meets Burial", seed=1).genre.dna_vector
    late = decompose("Frank Ocean meets Burial, late-night vibes", seed=1)
    assert "late-night" in late.mood
    nudges = tables().intent.moods["late-night"].dna
    assert nudges, "the late-night mood nudges the DNA"
    for field, delta in nudges.items():
        expected = min(max(getattr(plain, field) + delta, 0.0), 1.0)
        assert getattr(late.genre.dna_vector, field) == pytest.approx(expected, abs=1e-4), field


def test_something_warm_asks_which_genre():
    intent = decompose("Something warm", seed=1)
    about_genre = [a for a in intent.ambiguities if a.startswith("genre:")]
    assert len(about_genre) == 1
    assumed = genres()[intent.genre.primary].name
    assert assumed in about_genre[0]  # the question says what was assumed meanwhile
    assert "warm" in intent.mood
    assert [i.weight for i in intent.influences] == [1.0]


# --- explicit key, tempo, bars -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "root", "mode"),
    [
        ("Neo soul in Eb minor", "Eb", "minor"),
        ("F# dorian groove, jazzy", "F#", "dorian"),
        ("A minor house tune", "A", "minor"),
        ("house in Am", "A", "minor"),
        ("lofi in c#m", "C#", "minor"),
        ("trap in d minor", "D", "minor"),
        ("pop in E\u266d major", "Eb", "major"),
        ("Deep house in A Dorian", "A", "dorian"),
        ("Trap in F Major", "F", "major"),
        ("Jazz in F# Dorian", "F#", "dorian"),
        ("C Major pop", "C", "major"),
        ("house in A aeolian", "A", "minor"),
    ],
)
def test_an_explicit_key_is_taken_as_stated(prompt, root, mode):
    key = decompose(prompt, seed=3).key
    assert (key.root, key.mode, key.confidence) == (root, mode, "explicit")


def test_a_root_without_a_mode_keeps_the_root():
    key = decompose("disco in Bb", seed=3).key
    assert key.root == "Bb" and key.confidence == "explicit"
    assert key.mode in genres()["disco"].modes


@pytest.mark.parametrize(
    "prompt",
    [
        "house with a minor change in the bridge",
        "Trap beat in a dark room",
        "lofi to study in bed",
        "house in an old warehouse",
        "songs in demand, pop",
        "Burial in fog",
    ],
)
def test_ordinary_words_are_no_key(prompt):
    assert explicit_key(prompt) == (None, None)
    assert decompose(prompt, seed=3).key.confidence == "inferred"


@pytest.mark.parametrize(("prompt", "bars"), [("house, 32 bars", 32), ("an 8-bar house loop", 8), ("house, 1 bar", 1), ("techno 200 bars", 200)])
def test_explicit_bars(prompt, bars):
    assert explicit_bars(prompt) == bars
    assert decompose(prompt, seed=1).duration.total_bars == bars


def test_bars_argument_overrides_the_prompt():
    assert decompose("house, 32 bars", seed=1, bars=12).duration.total_bars == 12


def test_without_bars_the_genre_template_decides():
    template = tables().arrangement.templates[genres()["house"].arrangement]
    assert decompose("house", seed=1).duration.total_bars == sum(s.bars for s in template.sections)


@pytest.mark.parametrize(("prompt", "bpm"), [("house at 20 BPM", 20), ("house 300 bpm", 300), ("house, tempo of 92.5", 92.5), ("house 124BPM", 124)])
def test_explicit_tempo_at_the_edges(prompt, bpm):
    tempo = decompose(prompt, seed=1).tempo
    assert (tempo.bpm, tempo.confidence) == (bpm, "explicit")


@pytest.mark.parametrize(("prompt", "said"), [("house at 500 BPM", "500"), ("house 19 bpm", "19"), ("house, tempo 301", "301"), ("house at 1000 BPM", "1000")])
def test_out_of_range_tempo_is_bad_input(prompt, said):
    with pytest.raises(BadRequestError, match=rf"tempo {said} BPM is out of range"):
        decompose(prompt, seed=1)


@pytest.mark.parametrize("bars", [0, 1025, 5000])
def test_impossible_bar_counts_are_bad_input(bars):
    with pytest.raises(BadRequestError, match=f"impossible bar count {bars}"):
        decompose("house", seed=1, bars=bars)
    with pytest.raises(BadRequestError, match=f"impossible bar count {bars}"):
        decompose(f"house, {bars} bars", seed=1)


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_empty_prompt_is_bad_input(prompt):
    with pytest.raises(BadRequestError, match="the prompt is empty"):
        decompose(prompt, seed=1)


def test_oversize_prompt_is_bad_input():
    with pytest.raises(BadRequestError, match=f"keep it under {MAX_PROMPT}"):
        decompose("house " * 400, seed=1)


def test_bad_input_errors_are_value_errors():
    assert issubclass(BadRequestError, ValueError)


# --- sections, arc, outputs, dials ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "sections"),
    [
        ("house with intro, verse, chorus and outro", ["intro", "verse", "chorus", "outro"]),
        ("Rock anthem, intro verse chorus verse chorus outro", ["intro", "verse", "chorus", "verse", "chorus", "outro"]),
        ("house with a big chorus", []),  # one section word is no song form
        ("house", []),
    ],
)
def test_section_words(prompt, sections):
    assert decompose(prompt, seed=1).duration.sections == sections


@pytest.mark.parametrize(
    ("prompt", "arc"),
    [("house, building energy", "building"), ("slowly fading house", "declining"), ("house, steady", "steady"), ("trap with ebb and flow", "wave")],
)
def test_arc_words(prompt, arc):
    assert decompose(prompt, seed=1).energy.arc == arc


def test_without_arc_words_the_template_arc_holds():
    template = tables().arrangement.templates[genres()["trap"].arrangement]
    assert decompose("trap", seed=1).energy.arc == template.arc


@pytest.mark.parametrize(
    ("prompt", "outputs"),
    [
        ("house, just the chords", ["progression"]),
        ("trap, chords only", ["progression"]),
        ("house", list(DEFAULT_OUTPUTS)),
        ("house, play it live", [*DEFAULT_OUTPUTS, "playback"]),
    ],
)
def test_requested_outputs(prompt, outputs):
    assert decompose(prompt, seed=1).requested_outputs == outputs


def test_creativity_words_move_the_dials():
    plain = decompose("trap", seed=1).creativity_dials
    assert decompose("weird trap", seed=1).creativity_dials.harmonic == pytest.approx(plain.harmonic + 0.3)
    assert decompose("simple trap", seed=1).creativity_dials.harmonic == pytest.approx(plain.harmonic - 0.3)
    assert decompose("syncopated trap", seed=1).creativity_dials.rhythmic == pytest.approx(plain.rhythmic + 0.3)


def test_half_time_word():
    assert decompose("house", seed=1).tempo.half_time is False
    assert decompose("house, half-time feel", seed=1).tempo.half_time is True


def test_a_stated_tempo_far_from_the_genre_is_kept_and_flagged():
    intent = decompose("house at 45 BPM", seed=1)  # nor is 90 or 22.5 a house tempo
    assert intent.tempo.bpm == 45
    assert [a for a in intent.ambiguities if a.startswith("tempo:")]


# --- determinism, unknown names, JSON ---------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["Something warm", "Trap beat, dark, 140 BPM", "Frank Ocean meets Burial, late-night vibes"])
def test_same_seed_same_intent(prompt):
    assert decompose(prompt, seed=42) == decompose(prompt, seed=42)


def test_seeds_vary_what_the_prompt_leaves_open():
    keys = {decompose("Trap beat", seed=s).key.label() for s in range(12)}
    assert len(keys) > 1


def test_unknown_capitalised_names_are_flagged():
    intent = decompose("Techno with John Smith vibes", seed=1)
    assert intent.ambiguities == ["influence: 'John Smith' is not in the artist table and was not used"]
    assert [i.name for i in intent.influences] == ["Techno"]


def test_known_artists_are_not_flagged():
    intent = decompose("Kaytranada meets Daft Punk, clubby", seed=1)
    assert [i.name for i in intent.influences] == ["Kaytranada", "Daft Punk"]
    assert not [a for a in intent.ambiguities if a.startswith("influence:")]


def test_three_influences_weigh_by_order():
    intent = decompose("Frank Ocean meets Burial with Sade", seed=1)
    weights = [i.weight for i in intent.influences]
    assert len(weights) == 3 and weights == sorted(weights, reverse=True)
    assert sum(weights) == pytest.approx(1.0, abs=1e-3)


def _keys(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}"
            yield from _keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v, path)


def test_intent_json_round_trip_in_camel_case():
    intent = decompose("Frank Ocean meets Burial, late-night vibes, intro verse chorus", seed=5)
    text = intent.model_dump_json()
    assert PipelineIntent.model_validate_json(text) == intent
    data = json.loads(text)
    assert set(data) == {
        "prompt", "influences", "mood", "genre", "tempo", "key", "duration", "energy",
        "creativityDials", "requestedOutputs", "ambiguities",
    }
    assert set(data["genre"]) == {"primary", "secondary", "blendWeights", "dnaVector"}
    assert set(data["tempo"]) == {"bpm", "confidence", "halfTime"}
    assert set(data["duration"]) == {"totalBars", "sections"}
    assert set(data["influences"][0]) == {"name", "traits", "genreMapping", "weight"}
    assert "harmonicComplexity" in data["genre"]["dnaVector"]
    assert data["genre"]["blendWeights"] == [0.6, 0.4]
    assert not [k for k in _keys(data) if "_" in k]


def test_intent_refuses_unknown_fields():
    data = json.loads(decompose("house", seed=1).model_dump_json())
    data["tempo"]["swingFeel"] = 1
    with pytest.raises(ValueError, match="swingFeel"):
        PipelineIntent.model_validate(data)
