"""generators.midi, midi_edit and midi_inspect (and the ``backbeat midi`` command, and atomic_write), checked against symusic.

symusic parses MIDI with its own C++ reader, so what mido wrote is read back by something else.
"""

from __future__ import annotations

import io
import os

import mido
import pytest
import symusic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backbeat import cli
from backbeat.generators import files, midi, midi_edit, midi_inspect
from backbeat.generators.tables import tables
from backbeat.generators.errors import BadRequestError, MidiDataError, SessionError
from backbeat.generators.model import (
    Arrangement, Chord, Clip, CreativityDials, Duration, Energy, GenreBlend, GenreDNA, Key, Meter,
    Note, PipelineIntent, Progression, Section, SongState, Tempo, Track,
)

BAR = 4 * 480

# --- a song built by hand -------------------------------------------------------------------------


def make_song(tracks: list[Track] | None = None, *, meter: tuple[int, int] = (4, 4),
              root: str = "Eb", mode: str = "minor", bpm: float = 92.0) -> SongState:
    """A valid song of two 2-bar sections; by default drums (ch 10), bass (ch 2), chords (ch 3)."""
    key = Key(root=root, mode=mode, confidence="explicit")
    intent = PipelineIntent(
        prompt="test", influences=[], mood=["late-night"],
        genre=GenreBlend(primary="neo-soul", blend_weights=(1.0, 0.0),
                         dna_vector=GenreDNA(**{name: 0.5 for name in GenreDNA.model_fields})),
        tempo=Tempo(bpm=bpm, confidence="explicit", half_time=False), key=key,
        duration=Duration(total_bars=4, sections=[]), energy=Energy(overall=0.5, arc="steady"),
        creativity_dials=CreativityDials(harmonic=0.5, rhythmic=0.5),
        requested_outputs=["midi"], ambiguities=[],
    )
    chord = Chord(symbol="Ebm", root="Eb", quality="m", degree="i", beats=4, notes=[51, 54, 58])
    sections = [
        Section(name=name, kind=kind, bars=2, energy=0.5, transition="cut",
                active_tracks=["drums", "bass", "chords"], chord_order=[0])
        for name, kind in (("intro", "intro"), ("verse 1", "verse"))
    ]
    return SongState(
        session_id="test", seed=1, intent=intent,
        progression=Progression(name="test", key=key, chords=[chord], style="modal"),
        arrangement=Arrangement(meter=Meter(numerator=meter[0], denominator=meter[1]),
                                sections=sections, template="test"),
        tracks=default_tracks() if tracks is None else tracks,
    )


def clip(section: int, *notes: tuple[int, int, int, int]) -> Clip:
    return Clip(section=section, start_bar=2 * section, bars=2,
                notes=[Note(tick=t, duration=d, pitch=p, velocity=v) for t, d, p, v in notes])


def default_tracks() -> list[Track]:
    beat = [(0, 120, 36, 110), (480, 120, 38, 96), (960, 120, 36, 100), (1440, 120, 38, 96)]
    return [
        Track(name="Drums", part="drums", group="rhythm", channel=10,
              clips=[clip(0, *beat), clip(1, *beat, (1680, 240, 42, 70))]),
        Track(name="Sub Bass", part="bass", group="harmony", channel=2,
              clips=[clip(1, (0, 960, 39, 90), (960, 960, 39, 80))]),
        Track(name="Keys", part="chords", group="harmony", channel=3,
              clips=[clip(0, *[(0, 2 * BAR, p, 64) for p in (51, 54, 58)])]),
    ]


def expected(song: SongState, part: str) -> list[tuple[int, int, int, int, int]]:
    """The notes of ``part`` as notes() reports them, computed straight from the model."""
    track = song.track(part)
    meter = song.arrangement.meter
    bar = 480 * 4 // meter.denominator * meter.numerator
    return sorted((c.start_bar * bar + n.tick, n.duration, n.pitch, n.velocity, track.channel)
                  for c in track.clips for n in c.notes)


def messages(data: bytes) -> list[list[mido.Message]]:
    return [list(track) for track in mido.MidiFile(file=io.BytesIO(data)).tracks]


def symusic_notes(track) -> list[tuple[int, int, int, int]]:
    return sorted((n.time, n.duration, n.pitch, n.velocity) for n in track.notes)


@pytest.fixture
def song() -> SongState:
    return make_song()


# --- part_file and arrangement_file ---------------------------------------------------------------


def muted(song, part: str):
    return song.model_copy(update={"tracks": [t.model_copy(update={"muted": t.part == part}) for t in song.tracks]})


def test_a_muted_part_is_out_of_the_arrangement_file_and_whole_in_its_own(song):
    """Issue 15: "mute the lead" left the lead in full-arrangement.mid. The file plays what the
    song plays; the part's own file keeps every note (to bring it back in the DAW)."""
    data = midi.arrangement_file(muted(song, "chords"))
    tracks = mido.MidiFile(file=io.BytesIO(data)).tracks
    assert [t.name for t in tracks[1:]] == ["Drums", "Sub Bass", "Keys (muted)"]
    assert [sum(m.type == "note_on" for m in t) > 0 for t in tracks[1:]] == [True, True, False]
    assert midi_inspect.validate(data).ok
    assert midi.part_file(muted(song, "chords"), "chords") == midi.part_file(song, "chords")


def test_part_file_is_format_0_and_symusic_reads_the_notes(song):
    song = muted(song, "chords")
    for part in ("drums", "bass", "chords"):  # chords is muted, and written all the same
        data = midi.part_file(song, part)
        score = symusic.Score.from_midi(data)
        assert score.tpq == 480 and len(score.tracks) == 1
        (track,) = score.tracks
        assert track.name == song.track(part).name
        assert track.is_drum == (part == "drums")
        assert symusic_notes(track) == [row[:4] for row in expected(song, part)]
        assert [(t.time, t.numerator, t.denominator) for t in score.time_signatures] == [(0, 4, 4)]
        assert [round(t.qpm, 3) for t in score.tempos] == [92.0]
        assert [(k.key, k.tonality) for k in score.key_signatures] == [(-6, 1)]  # Eb minor
        midi_file = mido.MidiFile(file=io.BytesIO(data))
        assert midi_file.type == 0 and midi_file.ticks_per_beat == 480


def test_part_file_meta_and_end_of_track(song):
    (track,) = messages(midi.part_file(song, "bass"))
    metas = [(m.type, getattr(m, "name", None)) for m in track if m.is_meta]
    assert metas[:4] == [("track_name", "Sub Bass"), ("set_tempo", None), ("time_signature", None),
                         ("key_signature", None)]
    assert track[-1].type == "end_of_track"
    assert sum(m.time for m in track) == 4 * BAR
    assert {m.channel for m in track if not m.is_meta} == {1}


def test_note_offs_are_note_off_messages_and_come_first_at_a_tick(song):
    (track,) = messages(midi.part_file(song, "bass"))  # two bass notes touch at tick 4800
    kinds = [(m.type, m.velocity) for m in track if m.type in ("note_on", "note_off")]
    assert kinds == [("note_on", 90), ("note_off", 64), ("note_on", 80), ("note_off", 64)]
    assert all(m.time >= 0 for m in track)


def test_every_melodic_part_previews_with_its_genres_program(song):
    wanted = tables().intent.genres[song.intent.genre.primary].programs
    for part in ("drums", "bass", "chords"):
        (track,) = messages(midi.part_file(song, part))
        changes = [m for m in track if m.type == "program_change"]
        if part == "drums":
            assert changes == []  # channel 10 is the kit; a drum map turns roles into pads
            continue
        first_note = next(i for i, m in enumerate(track) if m.type == "note_on")
        assert [(m.program, m.channel + 1) for m in changes] == [(wanted[part], song.track(part).channel)]
        assert track.index(changes[0]) < first_note
    data = midi.arrangement_file(song)
    per_track = [[m.program for m in t if m.type == "program_change"] for t in mido.MidiFile(file=io.BytesIO(data)).tracks[1:]]
    assert per_track == [[], [wanted["bass"]], [wanted["chords"]]]


def test_arrangement_file_tracks_names_markers_and_channels(song):
    data = midi.arrangement_file(song)
    midi_file = mido.MidiFile(file=io.BytesIO(data))
    assert midi_file.type == 1 and len(midi_file.tracks) == 4
    head = midi_file.tracks[0]
    assert head.name == "neo-soul - Eb minor"
    assert [(m.text, t) for t, m in midi_inspect.absolute(head) if m.type == "marker"] == [
        ("intro", 0), ("verse 1", 2 * BAR)]
    assert not midi_inspect.plays(head)
    assert {sum(m.time for m in track) for track in midi_file.tracks} == {4 * BAR}
    score = symusic.Score.from_midi(data)  # symusic leaves out the note-less tempo track
    assert [t.name for t in score.tracks] == ["Drums", "Sub Bass", "Keys"]
    assert [t.is_drum for t in score.tracks] == [True, False, False]
    for track, part in zip(score.tracks, ("drums", "bass", "chords")):
        assert symusic_notes(track) == [row[:4] for row in expected(song, part)]
    assert [(m.time, m.text) for m in score.markers] == [(0, "intro"), (2 * BAR, "verse 1")]
    assert [t.name for t in midi_file.tracks[1:]] == ["Drums", "Sub Bass", "Keys"]
    assert [ch for _, ch in [(n, r[0][4]) for n, r in midi_inspect.notes(data)[1:]]] == [10, 2, 3]


def test_symusic_reads_a_file_written_to_disk(song, tmp_path):
    path = tmp_path / "full-arrangement.mid"
    files.atomic_write(path, midi.arrangement_file(song))
    assert [t.note_num() for t in symusic.Score(str(path)).tracks] == [9, 2, 3]


@pytest.mark.parametrize("meter", [(3, 4), (6, 8), (7, 8)])
def test_odd_meters_place_clips_at_bar_starts(meter):
    song = make_song(meter=meter)
    data = midi.part_file(song, "drums")
    assert midi_inspect.notes(data)[0][1] == expected(song, "drums")
    score = symusic.Score.from_midi(data)
    assert [(t.numerator, t.denominator) for t in score.time_signatures] == [meter]
    bar = 480 * 4 // meter[1] * meter[0]
    assert midi_inspect.validate(data).length_ticks == 4 * bar


@pytest.mark.parametrize("root", list(Key.model_fields["root"].annotation.__args__))
@pytest.mark.parametrize("mode", ["major", "minor", "dorian", "harmonic minor", "mixolydian"])
def test_every_key_gets_a_key_signature(root, mode):
    name = midi.key_signature(Key(root=root, mode=mode, confidence="explicit"))
    assert mido.MetaMessage("key_signature", key=name).key == name
    assert name.endswith("m") == (mode in ("minor", "dorian", "harmonic minor"))


def test_enharmonic_spellings():
    def sig(root: str, mode: str) -> str:
        return midi.key_signature(Key(root=root, mode=mode, confidence="inferred"))
    assert [sig("D#", "major"), sig("A#", "major"), sig("Db", "minor"), sig("Gb", "phrygian")] == [
        "Eb", "Bb", "C#m", "F#m"]
    assert [sig("Db", "major"), sig("D#", "minor")] == ["Db", "D#m"]


def test_writing_is_deterministic(song):
    again = SongState.model_validate_json(song.model_dump_json())
    assert midi.arrangement_file(song) == midi.arrangement_file(again)
    assert midi.part_file(song, "drums") == midi.part_file(again, "drums")


def test_overlapping_model_notes_are_written_as_valid_midi():
    lead = Track(name="Lead", part="lead", group="melody", channel=4, clips=[
        clip(0, (0, 960, 60, 100), (480, 960, 60, 90), (480, 120, 60, 50),
             (1000, 5 * BAR, 64, 70))])
    data = midi.part_file(make_song([lead]), "lead")
    assert midi_inspect.validate(data).ok
    # retrigger cuts the first note; the duplicate keeps the longer; the long note stops at the end
    assert midi_inspect.notes(data)[0][1] == [(0, 480, 60, 100, 4), (480, 960, 60, 90, 4),
                                      (1000, 4 * BAR - 1000, 64, 70, 4)]


def test_note_after_the_end_and_missing_part_are_errors():
    late = Track(name="Lead", part="lead", group="melody", channel=4,
                 clips=[Clip(section=1, start_bar=4, bars=1, notes=[Note(tick=0, duration=1,
                                                                        pitch=60, velocity=1)])])
    with pytest.raises(MidiDataError, match="starts after the song's end"):
        midi.part_file(make_song([late]), "lead")
    with pytest.raises(BadRequestError, match="no 'lead' track"):
        midi.part_file(make_song(), "lead")


def test_text_is_written_as_ascii():
    track = Track(name="Café – Keys", part="chords", group="harmony", channel=3, clips=[])
    assert midi_inspect.notes(midi.part_file(make_song([track]), "chords"))[0][0] == "Cafe - Keys"


# --- hex and read ---------------------------------------------------------------------------------


def test_hex_round_trip_in_every_spelling(song):
    data = midi.part_file(song, "drums")
    plain = data.hex()
    spelled = [plain, plain.upper(), " ".join(f"0x{b:02X}," for b in data),
               "\n".join(plain[i:i + 32] for i in range(0, len(plain), 32)) + "\n"]
    for text in spelled:
        assert midi_edit.hex_to_midi(text) == data


@pytest.mark.parametrize(("text", "message"), [
    ("4d54 68zz 0g", "hex string has 3 non-hex characters, first 'z' at position 8"),
    ("4d5", "odd number of digits (3)"),
    (" \n, ", "hex string is empty"),
    ("52494646", "not a MIDI file: missing MThd header"),
    ("4d546864000000060000000101e0", "ends early"),
])
def test_bad_hex_gives_one_clear_line(text, message):
    with pytest.raises(MidiDataError) as caught:
        midi_edit.hex_to_midi(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def good_bytes() -> bytes:
    return midi.part_file(make_song(), "bass")


@pytest.mark.parametrize(("data", "message"), [
    (b"", "missing MThd"),
    (b"RIFF....", "missing MThd"),
    (good_bytes()[:30], "ends early"),
    (good_bytes()[:8] + b"\x00\x05" + good_bytes()[10:], "unknown format 5"),
    (good_bytes()[:12] + b"\x00\x00" + good_bytes()[14:], "0 ticks per beat"),
    (good_bytes()[:12] + b"\xe7\x28" + good_bytes()[14:], "SMPTE"),
    (good_bytes()[:22] + b"\xf4" + good_bytes()[23:], "not a valid MIDI file: "),
])
def test_read_maps_every_failure_to_midi_data_error(data, message):
    with pytest.raises(MidiDataError, match=message) as caught:
        midi_inspect.read(data)
    assert "\n" not in str(caught.value)


# --- merge and split ------------------------------------------------------------------------------


def test_merge_then_split_round_trips_the_notes(song):
    parts = [(p, midi.part_file(song, p)) for p in ("drums", "bass", "chords")]
    merged = midi_edit.merge(parts)
    assert mido.MidiFile(file=io.BytesIO(merged)).type == 1
    rows = midi_inspect.notes(merged)
    assert [name for name, _ in rows] == ["tempo map", "drums", "bass", "chords"]
    assert [r for _, r in rows[1:]] == [expected(song, p) for p in ("drums", "bass", "chords")]
    score = symusic.Score.from_midi(merged)
    assert [t.name for t in score.tracks] == ["drums", "bass", "chords"]
    assert len(score.tempos) == len(score.time_signatures) == len(score.key_signatures) == 1
    back = midi_edit.split(merged)
    assert [name for name, _ in back] == ["drums", "bass", "chords"]
    for (name, data), part in zip(back, ("drums", "bass", "chords")):
        assert midi_inspect.notes(data) == [(part, expected(song, part))]
        assert symusic.Score.from_midi(data).tracks[0].is_drum == (part == "drums")


def test_split_of_the_arrangement_keeps_meta_and_names_files(song):
    parts = midi_edit.split(midi.arrangement_file(song))
    assert [name for name, _ in parts] == ["drums", "sub-bass", "keys"]
    for (_, data), part in zip(parts, ("drums", "bass", "chords")):
        assert midi_inspect.notes(data)[0][1] == expected(song, part)
        (track,) = messages(data)
        kinds = [m.type for m in track if m.is_meta]
        assert kinds[0] == "track_name" and kinds.count("set_tempo") == 1
        assert kinds.count("marker") == 2 and sum(m.time for m in track) == 4 * BAR
        assert len(symusic.Score.from_midi(data).markers) == 2


def test_split_names_are_unique_and_safe():
    tracks = [Track(name=name, part=part, group="harmony", channel=ch,
                    clips=[clip(0, (0, 10, 60, 60))])
              for name, part, ch in (("Keys/Pad", "chords", 3), ("keys pad", "lead", 4),
                                     ("***", "bass", 2))]
    names = [n for n, _ in midi_edit.split(midi.arrangement_file(make_song(tracks)))]
    assert names == ["keys-pad", "keys-pad-2", "track-3"]


def test_merge_rescales_other_resolutions_and_first_file_tempo_wins(song):
    slow = mido.MidiFile(type=0, ticks_per_beat=96)
    slow.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=1_000_000),
        mido.Message("note_on", note=70, velocity=50, time=96),
        mido.Message("note_on", note=70, velocity=0, time=48)]))
    buffer = io.BytesIO()
    slow.save(file=buffer)
    merged = midi_edit.merge([("bass", midi.part_file(song, "bass")), ("lead", buffer.getvalue())])
    assert midi_inspect.notes(merged)[2] == ("lead", [(480, 240, 70, 50, 1)])
    assert [round(t.qpm) for t in symusic.Score.from_midi(merged).tempos] == [92]
    assert midi_inspect.validate(merged).ok


def test_merge_names_tracks_of_a_multi_track_input_by_their_own_names(song):
    merged = midi_edit.merge([("all", midi.arrangement_file(song))])
    assert [n for n, _ in midi_inspect.notes(merged)] == ["tempo map", "Drums", "Sub Bass", "Keys"]


def test_merge_and_split_drop_system_messages_mido_cannot_write():
    # note-on, a tune request (F6: mido reads it inside a track but won't write it), note-off
    body = bytes.fromhex("00 90 3c 09  00 f6  0a 80 3c 40  00 ff 2f 00")
    data = (bytes.fromhex("4d546864 00000006 0000 0001 01e0") + b"MTrk"
            + len(body).to_bytes(4, "big") + body)
    assert any(m.type == "tune_request" for m in messages(data)[0])
    for out in (midi_edit.split(data)[0][1], midi_edit.merge([("x", data)])):
        assert midi_inspect.notes(out)[-1][1] == [(0, 10, 60, 9, 1)]


def test_merge_and_split_refuse_useless_input():
    empty = mido.MidiFile(type=1)
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)]))
    buffer = io.BytesIO()
    empty.save(file=buffer)
    assert midi_edit.split(buffer.getvalue()) == []
    with pytest.raises(MidiDataError, match="none of the files"):
        midi_edit.merge([("x", buffer.getvalue())])
    with pytest.raises(BadRequestError):
        midi_edit.merge([])


# --- validate -------------------------------------------------------------------------------------


def hand_made(*events: mido.Message, fmt: int = 0) -> bytes:
    midi_file = mido.MidiFile(type=fmt)
    midi_file.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="bad"), *events]))
    buffer = io.BytesIO()
    midi_file.save(file=buffer)
    return buffer.getvalue()


def test_validate_a_good_file(song):
    report = midi_inspect.validate(midi.arrangement_file(song))
    assert report.ok and report.problems == ()
    assert (report.format, report.tracks, report.ticks_per_beat) == (1, 4, 480)
    assert report.notes == 9 + 2 + 3 and report.channels == (2, 3, 10)
    assert report.length_ticks == 4 * BAR
    assert not midi_inspect.validate(midi.arrangement_file(song), drums_channel_only=True).ok
    assert midi_inspect.validate(midi.part_file(song, "drums"), drums_channel_only=True).ok


def test_validate_finds_a_missing_note_off():
    report = midi_inspect.validate(hand_made(mido.Message("note_on", note=60, velocity=90),
                                     mido.Message("note_on", note=62, velocity=90, time=10),
                                     mido.Message("note_on", note=62, velocity=0, time=10)))
    assert not report.ok
    assert report.problems == ("track 0 'bad': note-on without note-off: pitch 60 on channel 1 "
                               "at tick 0",)


def test_validate_finds_an_overlap_and_a_stray_note_off():
    report = midi_inspect.validate(hand_made(
        mido.Message("note_on", note=60, velocity=90, channel=9),
        mido.Message("note_on", note=60, velocity=80, channel=9, time=100),
        mido.Message("note_off", note=60, channel=9, time=100),
        mido.Message("note_off", note=61, channel=9, time=5)))
    assert report.problems == (
        "track 0 'bad': overlapping notes: pitch 60 on channel 10 at tick 100, the note from "
        "tick 0 still sounds",
        "track 0 'bad': note-off without note-on: pitch 61 on channel 10 at tick 205",
    )
    assert report.notes == 2 and report.channels == (10,)


def test_validate_drums_only_flags_other_channels():
    data = hand_made(mido.Message("note_on", note=36, velocity=90, channel=0),
                     mido.Message("note_off", note=36, channel=0, time=10))
    assert midi_inspect.validate(data).ok
    (problem,) = midi_inspect.validate(data, drums_channel_only=True).problems
    assert problem == "track 0 'bad': 1 note not on channel 10, first at tick 0 on channel 1"


def test_validate_raises_only_for_unparsable_data():
    with pytest.raises(MidiDataError):
        midi_inspect.validate(b"MThd\x00")


# --- properties -----------------------------------------------------------------------------------

METERS = st.sampled_from([(4, 4), (3, 4), (6, 8), (7, 8), (5, 4)])
RUNS = st.dictionaries(  # pitch -> [(gap before, duration, velocity)], laid out end to end
    st.integers(0, 127),
    st.lists(st.tuples(st.integers(0, 700), st.integers(1, 900), st.integers(1, 127)), max_size=8),
    max_size=5,
)


def song_with(runs: dict, meter: tuple[int, int], channel: int) -> SongState:
    """A song whose lead plays ``runs`` (same-pitch notes never overlap), clipped into sections."""
    bar = 480 * 4 // meter[1] * meter[0]
    end, by_section = 4 * bar, {0: [], 1: []}
    for pitch, run in runs.items():
        at = 0
        for gap, duration, velocity in run:
            start = at + gap
            if start + duration > end:
                break
            section = start // (2 * bar)
            by_section[section].append((start - 2 * bar * section, duration, pitch, velocity))
            at = start + duration
    lead = Track(name="Lead", part="lead", group="melody", channel=channel,
                 clips=[clip(s, *sorted(rows)) for s, rows in by_section.items()])
    return make_song([lead], meter=meter)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(RUNS, METERS, st.integers(1, 16))
def test_part_file_gives_back_the_same_notes(runs, meter, channel):
    song = song_with(runs, meter, channel)
    data = midi.part_file(song, "lead")
    assert midi_inspect.notes(data) == [("Lead", expected(song, "lead"))]
    assert midi_inspect.validate(data).ok
    score = symusic.Score.from_midi(data)
    assert sum(len(t.notes) for t in score.tracks) == len(expected(song, "lead"))


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 4 * BAR - 1), st.integers(1, 3000),
                          st.integers(0, 127), st.integers(1, 127)), max_size=40))
def test_any_model_notes_make_a_valid_file(rows):
    notes = [Note(tick=t, duration=d, pitch=p, velocity=v) for t, d, p, v in sorted(rows)]
    lead = Track(name="Lead", part="lead", group="melody", channel=1,
                 clips=[Clip(section=0, start_bar=0, bars=4, notes=notes)])
    data = midi.part_file(make_song([lead]), "lead")
    report = midi_inspect.validate(data)
    assert report.ok and report.length_ticks == 4 * BAR
    assert all(t + d <= 4 * BAR for t, d, *_ in midi_inspect.notes(data)[0][1])
    assert {r[2] for r in rows} == {r[2] for r in midi_inspect.notes(data)[0][1]}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.integers(0, 3)),
                min_size=1, max_size=4))
def test_damaged_files_give_only_midi_data_errors(edits):
    data = bytearray(midi.arrangement_file(make_song()))
    for where, value, action in edits:  # overwrite, delete or insert a byte somewhere
        where %= len(data)
        if action == 0:
            data[where] = value
        elif action == 1:
            del data[where]
        else:
            data.insert(where, value)
    for use in (midi_inspect.validate, midi_inspect.notes, midi_edit.split, lambda d: midi_edit.merge([("a", d)])):
        try:
            result = use(bytes(data))
        except MidiDataError as error:
            assert "\n" not in str(error)
            continue
        if use is midi_edit.split:  # what split writes parses again
            assert all(midi_inspect.validate(part).format == 0 for _, part in result)


# --- atomic_write ---------------------------------------------------------------------------------


def test_atomic_write_replaces_the_file_and_fsyncs(tmp_path, monkeypatch):
    path = tmp_path / "a.mid"
    path.write_bytes(b"old")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    files.atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    assert len(synced) == (2 if os.name == "posix" else 1)  # the file, then its folder
    assert [p.name for p in tmp_path.iterdir()] == ["a.mid"]


def test_atomic_write_cleans_up_after_a_failure(tmp_path, monkeypatch):
    path = tmp_path / "a.mid"
    path.write_bytes(b"old")

    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(SessionError, match="cannot write .*a.mid: Permission denied"):
        files.atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.mid"]


def test_atomic_write_into_a_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(SessionError, match="No such file"):
        files.atomic_write(tmp_path / "nope" / "a.mid", b"x")


# --- the ``backbeat midi`` command ----------------------------------------------------------------


@pytest.fixture
def run():
    """``backbeat ...`` through cli.main (which imports only the command's own module)."""
    return lambda *argv: cli.main([str(a) for a in argv])


def test_cli_hex2mid_from_file_and_stdin(run, tmp_path, monkeypatch, song, capsys):
    data = midi.part_file(song, "drums")
    (tmp_path / "in.hex").write_text(" ".join(f"0x{b:02x}" for b in data))
    assert run("midi", "hex2mid", tmp_path / "in.hex", tmp_path / "a.mid") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(data.hex()))
    assert run("midi", "hex2mid", "-", tmp_path / "b.mid") == 0
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes() == data
    monkeypatch.setattr("sys.stdin", io.StringIO("4d54xx"))
    assert run("midi", "hex2mid", "-", tmp_path / "c.mid") == 2
    err = capsys.readouterr().err
    assert err == ("backbeat: error: hex string has 2 non-hex characters, first 'x' at "
                   "position 5\n")
    assert not (tmp_path / "c.mid").exists()


def test_cli_merge_split_validate(run, tmp_path, song, capsys):
    for part in ("drums", "bass"):
        (tmp_path / f"{part}.mid").write_bytes(midi.part_file(song, part))
    assert run("midi", "merge", tmp_path / "all.mid", tmp_path / "drums.mid",
               tmp_path / "bass.mid") == 0
    assert run("midi", "split", tmp_path / "all.mid", tmp_path / "out") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["bass.mid", "drums.mid"]
    before, after = (messages((tmp_path / name).read_bytes())[0][1:]  # all but the track name
                     for name in ("bass.mid", "out/bass.mid"))
    assert before == after
    capsys.readouterr()
    assert run("midi", "validate", tmp_path / "all.mid", tmp_path / "out" / "drums.mid") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(": ok: format" in line for line in lines)
    (tmp_path / "bad.mid").write_bytes(hand_made(mido.Message("note_on", note=60, velocity=9)))
    (tmp_path / "junk.mid").write_bytes(b"junk")
    assert run("midi", "validate", tmp_path / "bad.mid", tmp_path / "junk.mid",
               tmp_path / "drums.mid", "--drums") == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("bad.mid: INVALID: 2 problems, first: track 0 'bad': note-on "
                             "without note-off: pitch 60 on channel 1 at tick 0")
    assert lines[1].endswith("junk.mid: INVALID: not a MIDI file: missing MThd header")
    assert lines[2].endswith("drums.mid: ok: format 0, 1 tracks, 9 notes, channels 10, "
                             "7680 ticks at 480 PPQ")


def test_cli_missing_input_is_a_usage_error(run, tmp_path, capsys):
    assert run("midi", "merge", tmp_path / "o.mid", tmp_path / "missing.mid") == 2
    assert "cannot read" in capsys.readouterr().err
