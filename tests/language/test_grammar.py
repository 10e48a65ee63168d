"""The reader's promises beyond the corpus: corrections are said out loud and never turn a real word
into another, numbers read one way, every understood change changes something (or says why not),
commands and new songs are told apart from changes, and the tables hold what the issue asks."""

from __future__ import annotations

import pytest

from backbeat.generators import alternatives, revisions
from backbeat.generators.errors import BadRequestError, ConfigError
from backbeat.generators.reading import Change, Reading
from backbeat.generators.refine import apply, note_count
from backbeat.generators.requests import read
from backbeat.generators.routing import Command, Compose, Refine, route
from backbeat.generators.settings import USER_CONFIG_DIR
from backbeat.generators.spelling import nearest
from backbeat.generators.tables import Tables, tables
from backbeat.generators.words import normal, with_digits

from .corpus import cases, song


@pytest.mark.parametrize(("typed", "digits"), [
    ("tempo ninety-six", "tempo 96"), ("a hundred and twenty bpm", "120 bpm"), ("one twenty", "120"),
    ("one thirty two", "132"), ("the first one", "the 1st one"), ("another one", "another one"),
    ("chord one", "chord 1"), ("make the intro eight bars", "make the intro 8 bars"), ("90 second sketch", "90 second sketch"),
    ("put the tempo at 87.5", "put the tempo at 87.5"), ("bars 9-16", "bars 9-16"),
])
def test_numbers_are_read_in_digits(typed, digits):
    assert with_digits(normal(typed)) == digits


@pytest.mark.parametrize("text", ["look at the hook", "the led is too busy", "the bass is too loud, lol", "mute the base of the kit"])
def test_real_words_are_never_corrected_into_others(text):
    fixed = {c.word for c in read(text, song()).corrections}
    assert not fixed - {"base"}, f"corrected real words {fixed}"  # "base" is a known homophone of "bass", said out loud


def test_every_correction_is_said():
    reading = read("longer chrous and tempp 96", song())
    assert [c.line for c in reading.corrections] == ["reading 'chrous' as 'chorus'", "reading 'tempp' as 'tempo'"]
    assert reading.lines()[:2] == ["reading 'chrous' as 'chorus'", "reading 'tempp' as 'tempo'"]


def test_the_nearest_word_comes_from_the_first_tier_that_has_one():
    assert nearest("leed", [frozenset({"lead"}), frozenset({"need"})]) == "lead"
    assert nearest("drumz", [frozenset({"drum", "drums"})]) == "drums", "a word of the same length wins a tie"
    assert nearest("zzzz", [frozenset({"lead"})]) is None


def test_a_reading_is_a_validated_value():
    reading = read("slower, darker, and mute the lead", song())
    assert Reading.model_validate_json(reading.model_dump_json()) == reading
    with pytest.raises(ValueError):
        Change(kind="density")  # a density change needs a part
    assert Change("density", -0.3, part="bass") == Change(kind="density", amount=-0.3, part="bass")


@pytest.mark.parametrize(("text", "label"), [
    ("go to the chorus", "jump chorus 1"), ("jump to the drop", "jump chorus 1"), ("undo", "undo"), ("stop", "stop"),
    ("ok undo that", "undo"), ("skip to the bridge", "jump bridge"), ("next section", "jump next"),
])
def test_transport_phrases_are_commands_on_the_playing_song(text, label):
    routed = route(text, song())
    assert isinstance(routed, Command) and routed.label == label


@pytest.mark.parametrize("text", ["stop the bass", "slow it down a bit", "change the tempo to 96", "drop the bass", "go back to the first bassline", "blah blah"])
def test_changes_and_the_unknown_refine_the_playing_song_never_replace_it(text):
    assert isinstance(route(text, song()), Refine)


def test_a_song_description_composes_even_with_a_tempo():
    for text in ("reggaeton, 95", "Kaytranada style house", "a sad piano ballad"):
        assert route(text, song()) == Compose(text)


def test_every_read_request_changes_something_or_says_why_in_one_line():
    songs = {}
    for name in ("pop", "edm"):
        s = song(name)
        for part in ("drums", "bass", "chords", "lead"):
            s = alternatives.with_alternatives(s, part, alternatives.make(s, part, 3))
        songs[name] = s
    changed = refused = 0
    for case in cases("requests"):
        if "read" not in case:
            continue
        s = songs[case.get("song", "pop")]
        try:
            proposal = revisions.revise(s, case["say"], read(case["say"], s))
        except BadRequestError as e:
            assert "\n" not in str(e)
            refused += 1
            continue
        assert proposal.song != s, f"{case['say']!r} changed nothing"
        assert proposal.notes, f"{case['say']!r} says nothing about what it did"
        changed += 1
    assert changed > 10 * refused, (changed, refused)


def test_a_density_at_its_limit_goes_on_to_a_sparser_style_then_says_it_cannot():
    s = song()
    counts = [note_count(s.track("bass"))]
    with pytest.raises(BadRequestError) as stopped:
        for _ in range(40):
            s = revisions.revise(s, "make the bassline simpler").song
            counts.append(note_count(s.track("bass")))
    assert all(b < a for a, b in zip(counts, counts[1:])), counts
    assert len(counts) > 3 and "already as sparse" in str(stopped.value) and "mute the bass" in str(stopped.value)


def test_drum_lanes_taken_out_stay_out_when_the_drums_are_generated_again():
    s = revisions.revise(song(), "drop the hats").song
    hats = {tables().parts.drums.gm[lane] for lane in ("hat", "phat", "ohat")}
    faster = apply(s, read("tempo 132", s).changes).song  # a tempo change regenerates the drums
    assert "drums" in apply(s, read("tempo 132", s).changes).regenerated
    for version in (s, faster):
        assert not any(n.pitch in hats for c in version.track("drums").clips for n in c.notes)
    back = revisions.revise(faster, "bring the hats back").song
    assert any(n.pitch in hats for c in back.track("drums").clips for n in c.notes)


def test_form_changes_keep_the_song_whole_and_named():
    s = song()
    removed = revisions.revise(s, "remove the second verse").song
    assert [x.name for x in removed.arrangement.sections].count("verse") == 1
    assert removed.intent.duration.total_bars == s.arrangement.total_bars - 8
    added = revisions.revise(song("edm"), "add a bridge").song
    kinds = [x.kind for x in added.arrangement.sections]
    assert kinds.index("bridge") == len(kinds) - 3, "a new section goes before the last drop"
    resting = revisions.revise(s, "no drums in the intro").song
    assert "drums" not in resting.arrangement.sections[0].active_tracks and not resting.track("drums").clips[0].section == 0
    with pytest.raises(BadRequestError, match="already rest"):
        revisions.revise(resting, "no drums in the intro")


def test_a_kept_part_is_left_as_it_is_or_the_request_is_refused():
    s = song()
    kept = revisions.revise(s, "leave the drums alone and slow it down").song
    assert kept.track("drums").clips == s.track("drums").clips and kept.bpm < s.bpm  # its delay times follow the tempo
    with pytest.raises(BadRequestError, match="cannot stay"):
        revisions.revise(s, "key of D minor but don't touch the chords")


def test_the_tables_hold_sixty_genres_and_six_hundred_sourced_artists():
    t = tables().intent
    assert len(t.genres) + len(t.subgenres) >= 60
    assert len(t.artists) >= 600 and all(a.source for a in t.artists) and all(s.source for s in t.subgenres.values())
    assert all(a.genre in t.genres for a in t.artists)


def test_a_subgenre_that_gained_an_idiom_is_named_for_deletion():
    path = USER_CONFIG_DIR / "subgenres.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[subgenres]\ntrap-beats = { name = "Trap Beats", aliases = ["trap music"], parent = "trap", source = "test" }\n')
    try:
        with pytest.raises(ConfigError) as e:
            Tables()
    finally:
        path.unlink()
    assert "'trap music' of row trap-beats is also a name of genres.toml's trap" in str(e.value)
    assert "delete the row trap-beats from subgenres.toml" in str(e.value)
