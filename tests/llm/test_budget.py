"""What the stages do with a bounded model: a run's time budget, run-ending failures, answers cut at
their token limit, clips that do not pass the musical floor, and the lines that say so once."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import replace

import pytest

from backbeat.benchmarks.fake_llm import FakeLLMServer, Reply
from backbeat.benchmarks.simulated import SimulatedModel
from backbeat.generators import pipeline, validation
from backbeat.generators.llm import clips
from backbeat.generators.llm.config import llm_tables
from backbeat.generators.model import PARTS

from .conftest import compose_with_llm, sources

LLM_STAGES = ("intent", "harmony", "arrangement", *(f"parts.{p}" for p in PARTS), "parts", "presets", "effects")


def only(stage: str, fault):
    return lambda s, reply, body: fault(reply, body) if s == stage else reply


def part_of(body: dict) -> str:
    track = next(line for line in body["messages"][1]["content"].splitlines() if line.startswith("Track: "))
    return json.loads(track.split(": ", 1)[1])["part"]


async def offline(bars: int = 8) -> pipeline.Draft:
    return await pipeline.compose_async(pipeline.new_draft("Frank Ocean meets Burial, late-night vibes", seed=3, bars=bars))


# --- the time budget ---------------------------------------------------------------------------------


@pytest.mark.trio
async def test_when_the_budget_is_spent_the_rest_is_algorithmic_and_said_once():
    lines: list[str] = []
    model = SimulatedModel(first_token_s=0.5)  # twelve requests, one at a time: about 6 s in all
    with FakeLLMServer(model=model) as server:
        draft = await compose_with_llm(server, bars=8, stages={"warn": lines.append, "budget_s": 3.0},
                                       max_concurrent_requests=1)
        took = time.monotonic() - server.requests[0].at  # the budget's clock starts at the first question
    found = sources(draft)
    assert found["intent"] == "llm" and found["effects"] == "budget", found
    assert {found[s] for s in LLM_STAGES} <= {"llm", "budget"}
    assert [line for line in lines if "budget" in line] == [
        "the model's time budget (3 s) ran out; the rest of the song uses the algorithmic stages "
        "(set LLM_BUDGET_S, or LLM_LIVE_BUDGET_S in the daemon, to give it longer)"]
    assert took < 3.0 + 2.0, "the budget plus the algorithmic stages (0.1-0.4 s measured, 2 s allowed for load)"
    assert validation.problems(draft.song()) == []
    budgeted = next(r for r in draft.stages if r.stage == "effects")
    assert budgeted.detail == "algorithmic: the model's time budget was spent"
    assert all(c.source in ("llm", "budget") for t in draft.tracks for c in t.clips)


@pytest.mark.trio
async def test_a_server_that_never_answers_costs_the_budget_not_the_timeouts():
    with FakeLLMServer(default=Reply(headers_delay_s=60)) as server:
        draft = await compose_with_llm(server, bars=8, stages={"budget_s": 1.5}, llm_timeout_s=30, llm_max_attempts=3)
        took = time.monotonic() - server.requests[0].at
    assert took < 1.5 + 2.0
    assert {sources(draft)[s] for s in LLM_STAGES} == {"budget"}
    assert len(server.requests) == 1, "nothing else is sent once the budget is spent"


# --- run-ending failures (issue 15) ----------------------------------------------------------------


@pytest.mark.parametrize("fault, hint", [
    (Reply(status=401, error="invalid api key"), "(check LLM_API_KEY)"),
    (Reply(status=404, error="model 'test-model' not found"), "(check LLM_MODEL, and that LLM_BASE_URL ends in /v1)"),
])
@pytest.mark.trio
async def test_a_refused_key_or_model_ends_the_asking_after_the_first_request(fault, hint):
    lines: list[str] = []
    with FakeLLMServer(default=fault) as server:
        draft = await compose_with_llm(server, bars=8, stages={"warn": lines.append})
    assert len(server.requests) == 1
    assert {sources(draft)[s] for s in LLM_STAGES} == {"fallback"}
    assert len(lines) == 1 and lines[0].endswith(f"the rest of the song uses the algorithmic stages {hint}"), lines


@pytest.mark.trio
async def test_a_refused_connection_costs_one_attempt_and_one_line():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lines: list[str] = []
    server = type("Closed", (), {"url": f"http://127.0.0.1:{port}/v1"})()
    started = time.monotonic()
    draft = await compose_with_llm(server, bars=8, stages={"warn": lines.append})
    assert time.monotonic() - started < 3.0
    assert {sources(draft)[s] for s in LLM_STAGES} == {"fallback"}
    assert lines == [f"nothing answers at http://127.0.0.1:{port}/v1/chat/completions (all attempts to connect to "
                     f"127.0.0.1:{port} failed): the rest of the song uses the algorithmic stages "
                     "(start the server, or check LLM_BASE_URL)"]
    assert next(r for r in draft.stages if r.stage == "intent").attempts == 1


# --- bounded answers ---------------------------------------------------------------------------------


def runaway(reply: Reply, body: dict) -> Reply:
    """Asked for a whole clip, the model writes two bars, then repeats one note in the third until
    it hits its token limit (a small model's runaway); asked for fewer bars it behaves."""
    if "of the section's" in body["messages"][1]["content"]:
        return reply
    bars = json.loads(reply.text)["bars"]
    endless = {"bar": 3, "notes": [{"beat": 1, "pitch": 60, "vel": 90, "len": 0.25}] * 10_000}
    return replace(reply, text=json.dumps({"bars": [*bars[:2], endless]}))


@pytest.mark.trio
async def test_every_request_carries_max_tokens_sized_to_its_answer(simulated):
    draft = await compose_with_llm(simulated, bars=8)
    tokens = {r.schema: r.body["max_tokens"] for r in simulated.requests if r.schema != "ClipAnswer"}
    assert tokens == {k: v for k, v in llm_tables().tokens.schemas.items() if k in tokens}
    reference = await offline()
    for r in (r for r in simulated.requests if r.schema == "ClipAnswer"):
        part = part_of(r.body)
        section = json.loads(next(x for x in r.body["messages"][1]["content"].splitlines() if x.startswith("Clip: "))[6:])["section"]
        index = next(i for i, s in enumerate(draft.arrangement.sections) if s.name == section)
        clip = next(c for c in reference.song().track(part).clips if c.section == index)
        assert r.body["max_tokens"] == clips.clip_tokens(clip, 1, clip.bars, 1920)


@pytest.mark.trio
async def test_a_clip_cut_at_its_limit_keeps_its_finished_bars_and_asks_for_the_rest():
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(shape=only("ClipAnswer", runaway))) as server:
        draft = await compose_with_llm(server, bars=8, stages={"warn": lines.append})
    reference = await offline()
    def played(tracks):  # on the repair's 20-tick grid, in grid order; lengths are left out
        return [[sorted((round(n.tick / 20) * 20, n.pitch, n.velocity) for n in c.notes) for c in t.clips] for t in tracks]

    assert played(draft.tracks) == played(reference.song().tracks), "every clip whole, bar for bar the simulated model's"
    assert all(c.source == "llm" for t in draft.tracks for c in t.clips)
    ranged = [r for r in server.requests if r.schema == "ClipAnswer" and "of the section's" in r.body["messages"][1]["content"]]
    assert ranged, "the rest was asked for in fewer bars"
    assert not any(m["role"] == "assistant" for r in server.requests for m in r.body["messages"]), "never pasted back"
    assert all("of the section's 4 (number them 3 to 4)" in r.body["messages"][1]["content"] for r in ranged)
    assert len(lines) == 1 and lines[0].endswith("tokens; asking for 2 bars at a time"), lines


@pytest.mark.trio
async def test_a_plan_answer_cut_at_its_limit_falls_back_without_a_repair_prompt():
    runaway = only("HarmonyAnswer", lambda r, b: replace(r, text='{"chords": [' + '{"symbol": "Cm7", "beats": 4},' * 400))
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(shape=runaway)) as server:
        draft = await compose_with_llm(server, bars=8, stages={"warn": lines.append})
    asked = [r for r in server.requests if r.schema == "HarmonyAnswer"]
    assert len(asked) == 1 and sources(draft)["harmony"] == "fallback"
    record = next(r for r in draft.stages if r.stage == "harmony")
    assert record.detail == "algorithmic fallback: the answer was cut at 512 tokens"
    assert any(line.startswith("harmony: the model gave no usable answer (the answer was cut at 512 tokens)") for line in lines)


# --- no empty part ships ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault, why", [
    (lambda r, b: replace(r, text=json.dumps({"bars": []})), "no notes"),
    (lambda r, b: replace(r, text=json.dumps({"bars": [{"bar": 1, "notes": [{"beat": 1, "pitch": 40}]}]})), "notes a bar against the draft's"),
])
@pytest.mark.trio
async def test_a_clip_below_the_musical_floor_never_replaces_the_algorithmic_one(fault, why):
    placed: list = []
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(shape=only("ClipAnswer", lambda r, b: fault(r, b) if part_of(b) == "drums" else r))) as server:
        draft = await compose_with_llm(server, bars=8, stages={"warn": lines.append, "on_clip": lambda p, c: placed.append(p)})
    reference = await offline()
    drums = draft.song().track("drums")
    assert [c.notes for c in drums.clips] == [c.notes for c in reference.song().track("drums").clips]
    assert all(c.source == "fallback" for c in drums.clips) and "drums" not in placed
    record = next(r for r in draft.stages if r.stage == "parts.drums")
    assert record.source == "fallback" and why in record.detail
    parts = [line for line in lines if line.startswith("parts:")]
    assert len(parts) == 1 and "algorithmic" in parts[0] and why in parts[0]
    assert all(c.notes for t in draft.song().tracks for c in t.clips if t.part in draft.arrangement.sections[c.section].active_tracks)


@pytest.mark.trio
async def test_the_parts_line_tells_how_many_clips_came_from_the_model(simulated):
    progress: list[str] = []

    def fault(reply: Reply, body: dict) -> Reply:
        return replace(reply, text="no JSON here") if part_of(body) == "lead" else reply

    with FakeLLMServer(model=SimulatedModel(shape=only("ClipAnswer", fault))) as server:
        settings_draft = pipeline.new_draft("Frank Ocean meets Burial, late-night vibes", seed=3, bars=8)
        from .conftest import client_for, settings_for
        from backbeat.generators.llm.stages import LLMStages

        async with client_for(server) as llm:
            backend = LLMStages(llm, settings_for(server.url), warn=lambda _: None).backend()
            draft = await pipeline.compose_async(settings_draft, backend=backend,
                                                 on_progress=lambda p: progress.append(p.message) if p.status == "done" else None)
    lead = sum(1 for s in draft.arrangement.sections if "lead" in s.active_tracks)
    total = sum(1 for p in PARTS for s in draft.arrangement.sections if p in s.active_tracks)
    line = next(m for m in progress if m.startswith("Wrote"))
    assert f"[{total - lead} of {total} clips from the model, {lead} algorithmic" in line
    assert "the answer contains no JSON object" in line
