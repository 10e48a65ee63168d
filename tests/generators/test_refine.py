"""Refinement and alternatives (seed tasks 6.6 and 6.7), through the session folder as a producer
uses them: what changes, what stays byte-identical, history, undo, alternatives and choosing."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import symusic

from backbeat.engine.time import ms_per_note
from backbeat.generators import midi, midi_inspect, pipeline, revisions, session
from backbeat.generators.alternatives import bar_ticks, make, overlap
from backbeat.generators.errors import BadRequestError
from backbeat.generators.refine import reached
from backbeat.generators.requests import Change, Question, parse
from backbeat.generators.sound import note_fraction
from backbeat.generators.validation import problems, scale_share

from .songs import fresh_copy, session_folder

PROMPT = "pop song, uplifting"


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_folder(tmp_path_factory.mktemp("sessions"), PROMPT, seed=5, bars=32)


@pytest.fixture
def folder(original: Path, tmp_path: Path) -> Path:
    return fresh_copy(original, tmp_path)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file() and "history" not in p.parts}


def differing(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {p for p in after if before.get(p) != after[p]}


# --- the seed's tests -------------------------------------------------------------------------------


def test_change_one_chord_regenerates_the_progression_and_what_follows_it_and_leaves_drums_byte_identical(folder):
    before = snapshot(folder)
    song = session.load_song(folder)
    revision = revisions.refine_folder(folder, "3rd chord too bright, make it darker")
    after = snapshot(folder)
    changed = differing(before, after)
    assert "midi/drums.mid" not in changed
    assert after["midi/drums.mid"] == before["midi/drums.mid"]
    assert {session.progression_path(song), "midi/chords.mid", "song-state.json"} <= changed
    new = session.load_song(folder)
    assert new.progression.chords[2].symbol != song.progression.chords[2].symbol
    assert [c.symbol for i, c in enumerate(new.progression.chords) if i != 2] == [c.symbol for i, c in enumerate(song.progression.chords) if i != 2]
    assert set(revision.regenerated) == {"bass", "chords", "lead"}
    assert new.track("drums") == song.track("drums")
    assert set(new.history[-1].files) == changed - {"manifest.json"}


def test_change_the_tempo_recomputes_every_time_based_value(folder):
    revisions.refine_folder(folder, "tempo 96")
    song = session.load_song(folder)
    synced = [p for t in song.tracks for slot in t.effects for p in slot.params if p.synced_to]
    assert synced, "the sound rules give delays and pre-delays"
    for p in synced:
        assert p.value == pytest.approx(ms_per_note(96, note_fraction(p.synced_to)), abs=0.05)
    score = symusic.Score(str(folder / "midi" / "full-arrangement.mid"))
    assert score.tempos[0].qpm == pytest.approx(96, abs=0.01)
    assert "96" in (folder / "notes" / "effect-chains.md").read_text()


def test_the_history_records_each_change_with_its_files(folder):
    requests = ["bass too busy, simplify", "make it warmer", "mute the lead"]
    for r in requests:
        before = snapshot(folder)
        revisions.refine_folder(folder, r)
        recorded = session.load_song(folder).history[-1]
        assert recorded.request == r
        assert set(recorded.files) == differing(before, snapshot(folder)) - {"manifest.json"}
        assert recorded.snapshot and (folder / recorded.snapshot).is_file()
    assert [e.request for e in session.load_song(folder).history] == requests


def test_three_bass_alternatives_are_valid_in_key_and_meaningfully_different(folder):
    revision = revisions.make_alternatives(folder, "bass", 3)
    song = session.load_song(folder)
    alts = song.alternatives["bass"]
    assert [a.label for a in alts] == ["A", "B", "C"] and len(revision.notes) == 3
    for a in alts:
        trial = song.model_copy(update={"tracks": [a.track if t.part == "bass" else t for t in song.tracks]})
        report = midi_inspect.validate(midi.part_file(trial, "bass"))
        assert report.ok, report.problems
        assert symusic.Score.from_midi(midi.part_file(trial, "bass")).note_num() > 0
        assert scale_share(trial, ("bass",)) >= 0.95
        assert a.description and 0 <= a.score <= 1
    for a, b in itertools.combinations(alts, 2):
        assert overlap(a.track, b.track, bar_ticks(song)) < 0.8, (a.label, b.label)


def test_choosing_b_puts_b_in_the_song_state_and_the_files(folder):
    revisions.make_alternatives(folder, "bass", 3)
    b = next(a for a in session.load_song(folder).alternatives["bass"] if a.label == "B")
    revisions.choose_alternative(folder, "bass", "B")
    song = session.load_song(folder)
    assert [c.notes for c in song.track("bass").clips] == [c.notes for c in b.track.clips]
    assert song.track("bass").params == b.track.params
    assert next(a for a in song.alternatives["bass"] if a.label == "B").chosen
    written = midi_inspect.notes((folder / "midi" / "bass.mid").read_bytes())[0][1]
    expected = midi_inspect.notes(midi.part_file(song, "bass"))[0][1]
    assert written == expected and written
    assert not problems(song)


# --- more refinement -----------------------------------------------------------------------------


def test_an_ambiguous_request_asks_and_changes_nothing(folder):
    before = snapshot(folder)
    for text in ["simpler", "longer", "something different", "hello"]:
        result = revisions.refine_folder(folder, text)
        assert isinstance(result, Question) and ("?" in result.text or "Try" in result.text)
    assert snapshot(folder) == before


def test_a_part_refinement_touches_only_that_part(folder):
    before = snapshot(folder)
    song = session.load_song(folder)
    revisions.refine_folder(folder, "bass too busy")
    new = session.load_song(folder)
    assert differing(before, snapshot(folder)) - {"manifest.json"} == {"song-state.json", "midi/bass.mid", "midi/full-arrangement.mid"}
    notes = lambda s: sum(len(c.notes) for c in s.track("bass").clips)  # noqa: E731
    assert notes(new) < notes(song)
    for part in ("drums", "chords", "lead"):
        assert new.track(part) == song.track(part)


def test_the_latest_instruction_wins_for_the_element_it_names(folder):
    revisions.refine_folder(folder, "bass busier")
    revisions.refine_folder(folder, "bass simpler")
    song = session.load_song(folder)
    assert song.track("bass").params.density == pytest.approx(0.5, abs=0.01)


def test_a_key_change_keeps_the_drums_and_moves_the_rest_into_the_new_key(folder):
    old = session.load_song(folder)
    before = midi_inspect.notes((folder / "midi" / "drums.mid").read_bytes())
    revisions.refine_folder(folder, "key D minor")
    song = session.load_song(folder)
    assert song.progression.key.root == "D" and song.progression.key.mode == "minor"
    assert song.track("drums") == old.track("drums")  # only the file's key signature follows the key
    assert midi_inspect.notes((folder / "midi" / "drums.mid").read_bytes()) == before
    assert scale_share(song) >= 0.95
    assert not problems(song)


def test_a_longer_section_keeps_the_song_whole(folder):
    song = session.load_song(folder)
    revisions.refine_folder(folder, "longer intro")
    new = session.load_song(folder)
    assert new.arrangement.sections[0].bars == song.arrangement.sections[0].bars + 4
    assert new.arrangement.total_bars == song.arrangement.total_bars + 4 == new.intent.duration.total_bars
    assert not problems(new)
    assert midi_inspect.validate((folder / "midi" / "full-arrangement.mid").read_bytes()).ok


def test_warmer_changes_only_the_effect_chains(folder):
    before = snapshot(folder)
    revisions.refine_folder(folder, "make it warmer")
    assert differing(before, snapshot(folder)) - {"manifest.json"} == {"song-state.json", "notes/effect-chains.md"}


def test_undo_and_revert_restore_the_files_exactly(folder):
    start = snapshot(folder)
    revisions.refine_folder(folder, "3rd chord darker")
    middle = snapshot(folder)
    revisions.refine_folder(folder, "tempo 140")
    revisions.undo(folder)
    assert {k: v for k, v in snapshot(folder).items() if k not in ("song-state.json", "manifest.json")} == {
        k: v for k, v in middle.items() if k not in ("song-state.json", "manifest.json")
    }
    revisions.revert(folder, 0)
    assert {k: v for k, v in snapshot(folder).items() if k not in ("song-state.json", "manifest.json")} == {
        k: v for k, v in start.items() if k not in ("song-state.json", "manifest.json")
    }
    assert [e.action for e in session.load_song(folder).history] == ["refine", "refine", "undo", "revert"]


def _files(folder: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(folder).items() if k not in ("song-state.json", "manifest.json")}


def test_each_undo_steps_back_one_more_entry_and_each_redo_forward_one(folder):
    """Issue 15: two undos went back and forth between two states instead of back two steps."""
    states = [_files(folder)]
    for text in ("3rd chord darker", "tempo 140", "bass too busy"):
        revisions.refine_folder(folder, text)
        states.append(_files(folder))
    for back in (2, 1, 0):
        revisions.undo(folder)
        assert _files(folder) == states[back]
    with pytest.raises(BadRequestError, match="nothing to undo"):
        revisions.undo(folder)
    revisions.redo(folder)
    assert _files(folder) == states[1]
    revisions.redo(folder)
    assert _files(folder) == states[2]
    revisions.undo(folder)
    assert _files(folder) == states[1]
    revisions.refine_folder(folder, "make it warmer")  # a new change: nothing is left to redo
    with pytest.raises(BadRequestError, match="nothing to redo"):
        revisions.redo(folder)


def test_try_something_different_takes_the_next_ranked_alternative_first(folder):
    revisions.make_alternatives(folder, "drums", 3)
    song = session.load_song(folder)
    best = max(song.alternatives["drums"], key=lambda a: a.score)
    revisions.refine_folder(folder, "try something different on the drums")
    song = session.load_song(folder)
    assert song.track("drums").params == best.track.params
    for _ in range(3):  # all heard: bolder ones are made
        revisions.refine_folder(folder, "try something different on the drums")
    assert len(session.load_song(folder).alternatives["drums"]) == 6


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [
        ("bass too busy, simplify", "density", "bass"),
        ("make the drums busier", "density", "drums"),
        ("3rd chord too bright", "color", "chord"),
        ("last chord brighter", "color", "chord"),
        ("darker key", "color", "key"),
        ("make it warmer", "mix", None),
        ("tempo 96", "tempo", None),
        ("slower", "tempo_rel", None),
        ("key of F# minor", "key", None),
        ("mute the lead", "mute", "lead"),
        ("bring back the lead", "mute", "lead"),
        ("longer chorus", "length", None),
        ("half-time feel", "halftime", None),
        ("more swing", "swing", None),
        ("more energy in the chorus", "energy", None),
        ("make it more trap", "genre", None),
        ("try something different on the bass", "alternative", "bass"),
    ],
)
def test_common_requests_parse_offline(text, kind, target):
    song = pipeline.compose_sync(PROMPT, seed=5, bars=32)
    changes = parse(text, song)
    assert not isinstance(changes, Question), changes
    assert changes[0].kind == kind
    if target in ("bass", "drums", "lead"):
        assert changes[0].part == target
    elif target is not None:
        assert changes[0].target == target


def test_the_blast_radius_follows_the_sensitivity_table():
    assert reached({"progression"}, set())[0] == ["bass", "chords", "lead"]
    assert reached({"tempo"}, set())[0] == ["drums", "bass"]
    assert reached({"energy"}, set())[0] == ["drums"]
    assert reached({"genre"}, set())[:2] == (["drums", "bass"], True)
    assert reached({"mix"}, set()) == ([], False, False)
    assert reached(set(), {"lead"})[0] == ["lead"]


def test_impossible_requests_are_one_clear_line(folder):
    for text, words in [("chord 9 darker", "no chord 9"), ("tempo 900", "out of range")]:
        with pytest.raises(BadRequestError) as e:
            revisions.refine_folder(folder, text)
        assert words in str(e.value) and "\n" not in str(e.value)


def test_alternatives_are_made_for_every_part():
    song = pipeline.compose_sync("deep house in A minor", seed=3, bars=16)
    for part in ("drums", "bass", "chords", "lead"):
        alts = make(song, part, 3)
        assert len({a.approach for a in alts}) == 3
        for a, b in itertools.combinations(alts, 2):
            assert a.track != b.track


def test_changes_are_plain_values():
    assert Change("density", -0.3, part="bass") == Change("density", -0.3, part="bass")
