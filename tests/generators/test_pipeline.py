"""The whole pipeline into a session folder (DESIGN.md §5, seed tasks 6.2-6.5): the exact files,
the manifest and state, retries, failures that stay resumable, bad input that leaves nothing,
resuming from a checkpoint, the context models, and tempo-synced effect times."""

from __future__ import annotations

import io
import json
import re
from functools import partial
from pathlib import Path

import mido
import pytest
import symusic
import trio

from backbeat import cli
from backbeat.engine.time import ms_per_note
from backbeat.generators import parts, pipeline, session, sound
from backbeat.generators.errors import BadRequestError, GeneratorError, StageError
from backbeat.generators.model import (
    PARTS, ClipContext, GroupContext, ProjectContext, SessionManifest, SongState, TrackContext,
)
from backbeat.generators.tables import tables

from .songs import NEO_SOUL, song

EXPECTED = {
    "song-state.json",
    "manifest.json",
    "progression/neo-soul-eb-minor-90-bpm-4-*.progression",  # and the session's time and id
    "midi/drums.mid",
    "midi/bass.mid",
    "midi/chords.mid",
    "midi/lead.mid",
    "midi/full-arrangement.mid",
    "notes/preset-assignments.md",
    "notes/effect-chains.md",
    "notes/arrangement-map.md",
    "notes/drum-pads.md",
    "notes/producer-notes.md",
}


def progression_path(folder) -> str:
    (path,) = (folder / "progression").iterdir()
    return f"progression/{path.name}"


def expected(folder) -> set[str]:
    """EXPECTED with the session's own progression file name."""
    return {progression_path(folder) if "*" in p else p for p in EXPECTED}
STAGE_NAMES = [s.name for s in pipeline.STAGES]
SESSION_NAME = re.compile(r"session-\d{8}-\d{6}-[0-9a-f]{4}")


def run(prompt: str, out: Path, *, seed: int = 1, bars: int | None = None, progress: list | None = None) -> Path:
    draft = pipeline.new_draft(prompt, seed=seed, bars=bars)
    sink = progress.append if progress is not None else (lambda _: None)
    return trio.run(partial(pipeline.run, draft, out, on_progress=sink))


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def neo_session(tmp_path_factory) -> tuple[Path, Path, list]:
    out = tmp_path_factory.mktemp("out")
    progress: list[pipeline.Progress] = []
    return out, run(NEO_SOUL, out, seed=7, progress=progress), progress


# --- a finished session -------------------------------------------------------------------------------


def test_session_folder_has_exactly_the_designed_files(neo_session):
    out, folder, _ = neo_session
    assert folder.parent == out and SESSION_NAME.fullmatch(folder.name)
    assert [p.name for p in out.iterdir()] == [folder.name]  # no .partial, nothing hidden
    assert files_in(folder) == expected(folder)  # no checkpoint.json, no temp files
    assert progression_path(folder).endswith(folder.name.removeprefix("session-") + ".progression")
    assert {p.name for p in folder.iterdir() if p.is_dir()} == {"progression", "midi", "notes"}


def test_manifest_lists_every_file(neo_session):
    _, folder, _ = neo_session
    manifest = SessionManifest.model_validate_json((folder / "manifest.json").read_bytes())
    assert {f.path for f in manifest.files} == expected(folder) - {"manifest.json"}
    types = {f.path: f.type for f in manifest.files}
    assert types["song-state.json"] == "state" and types[progression_path(folder)] == "progression"
    assert {types[f"midi/{p}.mid"] for p in PARTS} | {types["midi/full-arrangement.mid"]} == {"midi"}
    assert manifest.session_id == folder.name
    assert (manifest.prompt, manifest.genre, manifest.key, manifest.tempo) == (NEO_SOUL, "neo-soul", "Eb minor", 90)
    assert [s.stage for s in manifest.stage_timings] == STAGE_NAMES
    assert all(s.attempts == 1 and s.duration_ms >= 0 for s in manifest.stage_timings)
    data = json.loads((folder / "manifest.json").read_text())
    assert {"sessionId", "createdAt", "stageTimings"} <= set(data)


def test_song_state_round_trips(neo_session):
    _, folder, _ = neo_session
    text = (folder / "song-state.json").read_text()
    state = SongState.model_validate_json(text)
    assert state.model_dump_json(indent=2) == text
    assert state == session.load_song(folder)
    assert state.session_id == folder.name and state.seed == 7
    assert [t.part for t in state.tracks] == list(PARTS)
    assert state.arrangement.total_bars == 32
    assert (state.intent.key.label(), state.bpm) == ("Eb minor", 90)
    assert all(t.preset is not None and t.effects for t in state.tracks)
    # the session holds the same song as composing in memory with the same seed
    assert state.model_dump(exclude={"session_id"}) == song(NEO_SOUL, 7).model_dump(exclude={"session_id"})


def test_every_mid_file_opens_in_symusic(neo_session):
    _, folder, _ = neo_session
    state = session.load_song(folder)
    for part in PARTS:
        score = symusic.Score(str(folder / "midi" / f"{part}.mid"))
        assert len(score.tracks) == 1 and score.tracks[0].note_num() == sum(len(c.notes) for c in state.track(part).clips)
        assert score.tracks[0].is_drum == (part == "drums")
    full = symusic.Score(str(folder / "midi" / "full-arrangement.mid"))
    assert [t.name for t in full.tracks] == [t.name for t in state.tracks]
    assert mido.MidiFile(folder / "midi" / "full-arrangement.mid").type == 1


def test_progression_and_notes(neo_session):
    _, folder, _ = neo_session
    state = session.load_song(folder)
    body = json.loads((folder / progression_path(folder)).read_text())["progression"]
    assert [c["name"] for c in body["chords"]][:len(set(state.progression.symbols()))] == list(dict.fromkeys(state.progression.symbols()))
    notes = {name: (folder / "notes" / f"{name}.md").read_text() for name in session.NOTES}
    producer = notes["producer-notes"]
    assert "**90 BPM**" in producer and f"**{body['name']}**" in producer
    assert f"`{progression_path(folder)}`" in producer and "`midi/full-arrangement.mid`" in producer
    assert all(f"`midi/{p}.mid`" in producer for p in PARTS)
    assert all(s.name in notes["arrangement-map"] for s in state.arrangement.sections)
    assert "Time-based values are computed for 90 BPM." in notes["effect-chains"]
    assert all(t.preset.instrument in notes["preset-assignments"] for t in state.tracks)


def test_progress_lines_name_every_stage_in_order(neo_session):
    _, _, progress = neo_session
    done = [p for p in progress if p.status == "done"]
    assert [(p.index, p.stage) for p in done] == list(enumerate(STAGE_NAMES, start=1))
    assert [p.status for p in progress] == ["start", "done"] * len(STAGE_NAMES)
    assert done[1].message.startswith("Generated ") and "progression in Eb minor (" in done[1].message


# --- retries, failures, resume ---------------------------------------------------------------------------


def flaky(real, failures: int, calls: list):
    def stage(*args, **kwargs):
        calls.append(args)
        if len(calls) <= failures:
            raise GeneratorError(f"flaky failure {len(calls)}")
        return real(*args, **kwargs)

    return stage


def test_a_stage_that_fails_twice_is_retried(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(pipeline, "progression", flaky(pipeline.progression, 2, calls))
    progress: list = []
    folder = run("house, 8 bars", tmp_path, progress=progress)
    assert len(calls) == 3
    assert [(p.index, p.attempt) for p in progress if p.status == "retry"] == [(2, 1), (2, 2)]
    manifest = session.load_manifest(folder)
    assert {s.stage: s.attempts for s in manifest.stage_timings} == {**dict.fromkeys(STAGE_NAMES, 1), "harmony": 3}
    assert files_in(folder) == expected(folder)


def test_a_failing_part_is_retried_like_any_stage(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setitem(parts.PART_GENERATORS, "lead", flaky(parts.PART_GENERATORS["lead"], 1, calls))
    progress: list = []
    folder = run("house, 8 bars", tmp_path, progress=progress)
    assert [(p.index, p.status) for p in progress if p.status == "retry"] == [(4, "retry")]
    assert files_in(folder) == expected(folder)


def always_fails(*args, **kwargs):
    raise GeneratorError("the arranger is broken")


def test_a_stage_that_always_fails_leaves_a_resumable_partial(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipeline, "arrangement", always_fails)
    with pytest.raises(StageError, match=r"stage 3 \(arrangement\) failed after 3 attempts: the arranger is broken"):
        run("house, 8 bars", tmp_path)
    (partial_dir,) = tmp_path.iterdir()
    assert partial_dir.name.startswith(".session-") and partial_dir.name.endswith(".partial")
    assert files_in(partial_dir) == {"checkpoint.json"}
    assert pipeline.load_draft(partial_dir).completed == ["intent", "harmony"]

    monkeypatch.undo()
    assert cli.main(["generate", "--resume", str(partial_dir)]) == 0
    final = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert final == session.final_path(partial_dir) and final.is_dir()
    assert [p.name for p in tmp_path.iterdir()] == [final.name]
    assert files_in(final) == expected(final)
    assert session.load_song(final).arrangement.total_bars == 8


def test_a_failing_part_generator_fails_its_stage_with_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(parts.PART_GENERATORS, "bass", always_fails)
    with pytest.raises(StageError, match=r"stage 4 \(parts\) failed after 3 attempts: the arranger is broken"):
        run("house, 8 bars", tmp_path)
    (partial_dir,) = tmp_path.iterdir()
    assert pipeline.load_draft(partial_dir).completed == ["intent", "harmony", "arrangement"]


def test_bad_input_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(BadRequestError, match="tempo 500 BPM is out of range"):
        run("house at 500 BPM", out)
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_input_found_inside_a_stage_removes_the_partial(tmp_path):
    # a draft made without new_draft's checks: stage 1 finds the bad tempo
    draft = pipeline.Draft(prompt="house at 500 BPM", seed=1, session_id=session.new_session_id())
    with pytest.raises(BadRequestError, match="tempo 500 BPM"):
        trio.run(partial(pipeline.run, draft, tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("kwargs", "message"), [({"bars": 0}, "impossible bar count 0"), ({"bars": 5000}, "impossible bar count 5000"), ({"seed": -1}, "seed -1 is out of range")])
def test_new_draft_checks_its_input(kwargs, message):
    with pytest.raises(BadRequestError, match=message):
        pipeline.new_draft("house", **{"seed": 1, **kwargs})


def test_resume_after_stage_3_gives_the_uninterrupted_song(tmp_path, monkeypatch):
    prompt = "Frank Ocean meets Burial, late-night vibes, 24 bars"
    monkeypatch.setitem(parts.PART_GENERATORS, "drums", always_fails)
    with pytest.raises(StageError):
        run(prompt, tmp_path / "a", seed=99)
    (partial_dir,) = (tmp_path / "a").iterdir()
    draft = pipeline.load_draft(partial_dir)
    assert draft.completed == ["intent", "harmony", "arrangement"] and draft.tracks == []
    monkeypatch.undo()

    resumed = trio.run(partial(pipeline.run, draft, tmp_path / "a", folder=partial_dir))
    straight = run(prompt, tmp_path / "b", seed=99)
    a, b = session.load_song(resumed), session.load_song(straight)
    assert a.model_dump(exclude={"session_id"}) == b.model_dump(exclude={"session_id"})
    for name in [f"midi/{p}.mid" for p in PARTS] + ["midi/full-arrangement.mid"]:
        assert (resumed / name).read_bytes() == (straight / name).read_bytes(), name
    chords = [json.loads((f / progression_path(f)).read_text())["progression"]["chords"] for f in (resumed, straight)]
    assert chords[0] == chords[1]


def test_resume_refuses_what_is_not_a_partial_session(tmp_path, neo_session):
    with pytest.raises(BadRequestError, match="not a resumable session"):
        pipeline.load_draft(tmp_path)
    _, finished, _ = neo_session
    with pytest.raises(BadRequestError, match="is a finished session"):
        pipeline.load_draft(finished)
    (tmp_path / "checkpoint.json").write_text("{}")
    with pytest.raises(BadRequestError, match="not a valid checkpoint"):
        pipeline.load_draft(tmp_path)


# --- context hierarchy and effect times ------------------------------------------------------------------


def contexts_of(s: SongState):
    project = ProjectContext(
        prompt=s.intent.prompt, genre=s.intent.genre.primary, key=s.progression.key.label(), tempo=s.bpm,
        meter="4/4", mood=s.intent.mood, sections=[x.name for x in s.arrangement.sections],
    )
    groups = [GroupContext(role=role, tracks=[t.name for t in s.tracks if t.group == role]) for role in ("rhythm", "harmony", "melody")]
    tracks = [TrackContext(name=t.name, part=t.part, channel=t.channel, instrument=t.preset.instrument if t.preset else None) for t in s.tracks]
    clips = [
        ClipContext(
            track=t.name, section=s.arrangement.sections[c.section].name, bars=c.bars,
            energy=s.arrangement.sections[c.section].energy,
            chords=[s.progression.chords[i].symbol for i in s.arrangement.sections[c.section].chord_order],
        )
        for t in s.tracks for c in t.clips
    ]
    return [project, *groups, *tracks, *clips]


def test_context_hierarchy_round_trips_through_json():
    values = contexts_of(song(NEO_SOUL, 7))
    assert {type(v) for v in values} == {ProjectContext, GroupContext, TrackContext, ClipContext}
    for value in values:
        assert type(value).model_validate_json(value.model_dump_json()) == value


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (GroupContext, {"role": "vocals", "tracks": []}),
        (TrackContext, {"name": "Voc", "part": "vocals", "channel": 4}),
        (ProjectContext, {"prompt": "x", "genre": "house", "key": "C major", "tempo": 120, "meter": "4/4", "mood": [], "sections": [], "extra": 1}),
        (ClipContext, {"track": "Bass", "section": "intro", "bars": "many", "energy": 0.5, "chords": []}),
    ],
)
def test_context_models_validate(model, data):
    with pytest.raises(ValueError):
        model.model_validate(data)


@pytest.mark.parametrize(("sync", "fraction"), [("1/8 dotted", 0.1875), ("1/4", 0.25), ("1/4 triplet", 1 / 6), ("1/64", 1 / 64)])
def test_note_fraction(sync, fraction):
    assert sound.note_fraction(sync) == pytest.approx(fraction)


def test_dotted_eighth_at_120_bpm_is_375_ms():
    assert ms_per_note(120, sound.note_fraction("1/8 dotted")) == pytest.approx(375.0)


def synced(tracks) -> list:
    return [p for t in tracks for slot in t.effects for p in slot.params if p.synced_to]


@pytest.mark.parametrize("bpm", [60, 90, 120, 174])
def test_synced_effect_times_follow_the_tempo(bpm):
    s = song(NEO_SOUL, 7)
    params = synced(sound.with_effects(s.intent, s.tracks, bpm=bpm))
    assert params, "the neo-soul chains have tempo-synced parameters"
    for p in params:
        assert p.unit == "ms"
        assert p.value == round(60_000 / bpm * 4 * sound.note_fraction(p.synced_to), 1), p


def test_dotted_eighth_delays_in_the_catalog_are_375_ms_at_120():
    for key in ("Frank Ocean meets Burial", NEO_SOUL, "Trap beat, dark, 140 BPM", "Deep house in A minor, 122 BPM, 64 bars", "Dubstep, dark and heavy, half-time"):
        s = song(key, 1)
        for p in synced(sound.with_effects(s.intent, s.tracks, bpm=120)):
            if p.synced_to == "1/8 dotted":
                assert p.value == 375.0
                return
    pytest.fail("no chain of these songs has a 1/8 dotted parameter")


def test_session_effects_are_at_the_songs_tempo(neo_session):
    _, folder, _ = neo_session
    state = session.load_song(folder)
    for p in synced(state.tracks):
        assert p.value == round(60_000 / 90 * 4 * sound.note_fraction(p.synced_to), 1)


def test_presets_come_from_the_catalog_with_sources(neo_session):
    _, folder, _ = neo_session
    catalog = {i.name: i for i in tables().catalog.instruments}
    for t in session.load_song(folder).tracks:
        entry = catalog[t.preset.instrument]
        assert t.preset.source
        if t.preset.preset is not None:
            assert t.preset.preset in [p.name for p in entry.presets]
    effects = {e.name for e in tables().catalog.effects}
    assert {slot.effect for t in session.load_song(folder).tracks for slot in t.effects} <= effects


def test_arrangement_file_on_disk_is_format_1_with_tempo_track(neo_session):
    _, folder, _ = neo_session
    mf = mido.MidiFile(file=io.BytesIO((folder / "midi" / "full-arrangement.mid").read_bytes()))
    assert mf.type == 1 and len(mf.tracks) == 5
    assert [m.type for m in mf.tracks[0] if m.type == "set_tempo"] == ["set_tempo"]
    assert round(mido.tempo2bpm(next(m.tempo for m in mf.tracks[0] if m.type == "set_tempo"))) == 90
