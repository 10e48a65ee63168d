"""Approval gates: the pipeline pauses after each creative stage; alternatives, edits and stops."""

from pathlib import Path

import pytest
import trio

from backbeat.generators import gates, pipeline, session
from backbeat.generators.errors import BadRequestError


def scripted(*answers: str):
    """An ask that answers from a script and records (stage, problem) of every question."""
    asked: list[tuple[str, str | None]] = []
    queue = list(answers)

    async def ask(stage, draft, problem):
        asked.append((stage, problem))
        return gates.read_answer(queue.pop(0) if queue else None)

    return ask, asked


def run(draft, out: Path, ask):
    return trio.run(lambda: pipeline.run(draft, out, compose=gates.with_gates(ask)))


def test_yes_everywhere_is_the_same_song_as_no_gates(tmp_path):
    ask, asked = scripted()
    gated = run(pipeline.new_draft("pop song", seed=4, bars=16), tmp_path / "a", ask)
    plain = trio.run(lambda: pipeline.run(pipeline.new_draft("pop song", seed=4, bars=16), tmp_path / "b"))
    assert [s for s, _ in asked] == list(gates.GATED)
    a, b = session.load_song(gated), session.load_song(plain)
    assert a.model_copy(update={"session_id": ""}) == b.model_copy(update={"session_id": ""})


def test_an_alternative_and_an_edit_change_their_stage(tmp_path):
    ask, asked = scripted("y", "a", "y", "y", "e bass simpler", "y")
    base = session.load_song(trio.run(lambda: pipeline.run(pipeline.new_draft("pop song", seed=4, bars=16), tmp_path / "b")))
    song = session.load_song(run(pipeline.new_draft("pop song", seed=4, bars=16), tmp_path / "a", ask))
    assert song.progression != base.progression  # the harmony alternative
    assert song.track("bass").params.density is not None  # the edit at the parts gate
    assert [s for s, _ in asked] == ["intent", "harmony", "harmony", "arrangement", "parts", "parts"]


def test_an_edit_that_cannot_be_made_is_reported_and_asked_again(tmp_path):
    ask, asked = scripted("e chord 9 darker", "e key G minor", "y")
    song = session.load_song(run(pipeline.new_draft("pop song", seed=4, bars=16), tmp_path, ask))
    assert asked[1][0] == "intent" and "no chord 9" in asked[1][1]
    assert song.progression.key.root == "G" and song.progression.key.mode == "minor"


def test_quit_stops_and_leaves_a_resumable_run(tmp_path):
    ask, _ = scripted("y", "q")
    draft = pipeline.new_draft("pop song", seed=4, bars=16)
    with pytest.raises(gates.Stop):
        run(draft, tmp_path, ask)
    partial = session.partial_path(tmp_path, draft.session_id)
    resumed = trio.run(lambda: pipeline.run(pipeline.load_draft(partial), tmp_path, folder=partial))
    assert session.load_song(resumed).progression.key == session.load_song(resumed).intent.key


@pytest.mark.parametrize(("line", "choice"), [("", "yes"), ("Y", "yes"), ("a", "alternative"), ("q", "quit"), ("e tempo 90", "edit")])
def test_answers(line, choice):
    assert gates.read_answer(line).choice == choice


@pytest.mark.parametrize("line", ["maybe", "e", "e   "])
def test_bad_answers(line):
    with pytest.raises(BadRequestError):
        gates.read_answer(line)
