"""The MPC Beats ``.progression`` file: its shape, a unique name per session, MPC's key spelling,
"Root" on the tonic, and a 16-pad palette with the song's chords first and nothing twice."""

from __future__ import annotations

import json

import pytest

from backbeat.generators import session
from backbeat.generators.model import Chord
from backbeat.generators.palette import palette
from backbeat.generators.tables import tables
from backbeat.generators.theory import pitch_class

from .songs import example_prompts, song

NEO_SOUL = "Neo soul, Eb minor, 90 BPM, 4 tracks, 32 bars"
PROMPTS = [NEO_SOUL, "Frank Ocean meets Burial", "Trap beat, dark, 140 BPM", "deep house in A minor", "Bossa nova in Db major"]


def body(s) -> dict:
    return json.loads(session.progression_file(s.progression, session.progression_name(s)))["progression"]


def identity(c: Chord) -> tuple:
    return pitch_class(c.root), frozenset(n % 12 for n in c.notes), pitch_class(c.bass or c.root)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_file_has_exactly_the_mpc_shape(prompt):
    s = song(prompt, 1)
    data = json.loads(session.progression_file(s.progression, session.progression_name(s)))
    assert list(data) == ["progression"]
    b = data["progression"]
    assert list(b) == ["name", "rootNote", "scale", "recordingOctave", "chords"]
    assert b["name"] == session.progression_name(s)
    assert b["scale"] == tables().theory.scales[s.progression.key.mode].mpc and b["recordingOctave"] == 2
    for written in b["chords"]:
        assert list(written) == ["name", "role", "notes"] and written["role"] in ("Root", "Normal")
        assert written["notes"] == sorted(set(written["notes"])) and all(type(n) is int and 0 <= n <= 127 for n in written["notes"])


@pytest.mark.parametrize("prompt", PROMPTS)
def test_up_to_16_unique_chords_the_songs_first_in_order(prompt):
    s = song(prompt, 1)
    chords = body(s)["chords"]
    assert len(chords) == 16, "the pads hold a full palette"
    own: dict[str, list[int]] = {}
    for c in s.progression.chords:  # each chord once, in its first voicing
        own.setdefault(c.symbol, c.notes)
    assert [(c["name"], c["notes"]) for c in chords[: len(own)]] == list(own.items())
    pal = palette(s.progression)
    assert len({identity(c) for c in pal}) == len(pal) == 16, "no chord twice, not even respelled"
    assert len({c["name"] for c in chords}) == 16


def test_root_goes_to_the_chord_on_the_tonic_not_simply_the_first():
    for prompt in example_prompts()[:12]:
        s = song(prompt, 3)
        chords, tonic = body(s)["chords"], pitch_class(s.progression.key.root)
        roots = [i for i, c in enumerate(chords) if c["role"] == "Root"]
        assert len(roots) == 1
        pal = palette(s.progression)
        on_tonic = [i for i, c in enumerate(pal) if pitch_class(c.root) == tonic]
        if on_tonic:
            assert pitch_class(pal[roots[0]].root) == tonic
            assert roots[0] == min(on_tonic, key=lambda i: (pal[i].bass is not None, i))
        else:
            assert roots == [0]


def test_a_song_that_starts_off_the_tonic_gets_root_on_its_tonic_chord():
    s = song(NEO_SOUL, 1)
    chords = list(s.progression.chords)
    shifted = s.progression.model_copy(update={"chords": chords[1:] + chords[:1], "degrees": s.progression.degrees[1:] + s.progression.degrees[:1]})
    written = json.loads(session.progression_file(shifted, "backbeat-x"))["progression"]["chords"]
    root = next(c for c in written if c["role"] == "Root")
    assert pitch_class(next(c for c in palette(shifted) if c.symbol == root["name"]).root) == pitch_class("Eb")
    assert written[0]["role"] == "Normal" or pitch_class(chords[1].root) == pitch_class("Eb")


@pytest.mark.parametrize(("prompt", "root"), [(NEO_SOUL, "D#"), ("Bossa nova in Db major", "C#"), ("deep house in A minor", "A")])
def test_root_note_is_spelled_with_sharps_as_mpc_spells_keys(prompt, root):
    b = body(song(prompt, 1))
    assert b["rootNote"] == root and "b" not in b["rootNote"]


def test_file_names_and_names_are_unique_per_session_and_say_what_they_are():
    a, b = song(NEO_SOUL, 1), song(NEO_SOUL, 1)
    b = b.model_copy(update={"session_id": "session-20260101-000000-beef"})
    pa, pb = session.progression_path(a), session.progression_path(b)
    assert pa != pb and pa.startswith("progression/neo-soul") and pa.endswith(".progression")
    assert pb == "progression/neo-soul-eb-minor-90-bpm-4-20260101-000000-beef.progression"
    name = session.progression_name(b)
    assert name.count("-") == 1, "MPC splits heading and entry at the first hyphen"
    heading, entry = name.split("-")
    assert heading == "backbeat" and entry.startswith("Neo soul") and "D# minor" in entry and entry.endswith("beef")
    assert name != session.progression_name(a)


def test_the_session_folder_holds_the_uniquely_named_file(tmp_path):
    s = song(NEO_SOUL, 2)
    session.write(tmp_path, s, [])
    (written,) = (tmp_path / "progression").iterdir()
    assert f"progression/{written.name}" == session.progression_path(s)
    notes = (tmp_path / "notes" / "producer-notes.md").read_text()
    assert session.progression_path(s) in notes and "D# minor" in notes
