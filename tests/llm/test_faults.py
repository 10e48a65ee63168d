"""Every fault a model or its server can produce ends in a valid song: what can be repaired is, what
cannot falls back to the algorithmic stage, and the manifest's sources say which was which."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from backbeat.benchmarks.fake_llm import FakeLLMServer, Reply
from backbeat.benchmarks.simulated import SimulatedModel
from backbeat.generators import validation
from backbeat.generators.harmony import OUT_BUDGET
from backbeat.generators.model import PARTS
from backbeat.generators.tables import tables
from backbeat.generators.theory import SHARP_NAMES, pitch_class

from .conftest import compose_with_llm, sources

PLAN = ("intent", "harmony", "arrangement")
LLM_STAGES = (*PLAN, *(f"parts.{p}" for p in PARTS), "parts", "presets", "effects")


def only(stage: str, fault: Callable[[Reply], Reply]) -> Callable[[str, Reply, dict], Reply]:
    return lambda s, reply, body: fault(reply) if s == stage else reply


def everywhere(fault: Callable[[Reply], Reply]) -> Callable[[str, Reply, dict], Reply]:
    return lambda s, reply, body: fault(reply)


def part_of(body: dict) -> str:
    track = next(line for line in body["messages"][1]["content"].splitlines() if line.startswith("Track: "))
    return json.loads(track.split(": ", 1)[1])["part"]


def out_of_range(stage: str, reply: Reply, body: dict) -> Reply:
    """Clips with pitches two octaves off, wild velocities, notes past the clip, no lengths."""
    if stage != "ClipAnswer":
        return reply
    answer = json.loads(reply.text)
    for bar in answer["bars"]:
        for note in bar["notes"]:
            note["pitch"] += 24 if part_of(body) != "drums" else 9
            note["vel"] = 400
            note.pop("len", None)
    answer["bars"].append({"bar": 99, "notes": [{"beat": 1, "pitch": 60}]})
    return replace(reply, text=json.dumps(answer))


def _up_a_semitone(symbol: str) -> str:
    m = re.match(r"([A-G][#b]?)(.*)", symbol)
    return SHARP_NAMES[(pitch_class(m.group(1)) + 1) % 12] + m.group(2).split("/")[0]


def wrong_key(stage: str, reply: Reply, body: dict) -> Reply:
    """Chords and melodic notes a semitone above the song's key."""
    answer = json.loads(reply.text)
    if stage == "HarmonyAnswer":
        answer["chords"] = [{"symbol": _up_a_semitone(c["symbol"]), "beats": c["beats"]} for c in answer["chords"]]
    elif stage == "ClipAnswer" and part_of(body) != "drums":
        for bar in answer["bars"]:
            for note in bar["notes"]:
                note["pitch"] += 1
    else:
        return reply
    return replace(reply, text=json.dumps(answer))


FAULTS = {
    "429 storm": (everywhere(lambda r: Reply(status=429, headers={"Retry-After": "0.01"})), set(LLM_STAGES)),
    "500s": (everywhere(lambda r: Reply(status=500)), set(LLM_STAGES)),
    "stall": (only("HarmonyAnswer", lambda r: replace(r, stall_after=3, stall_s=5)), {"harmony"}),
    "truncated stream": (only("ArrangementAnswer", lambda r: replace(r, drop_after=4)), {"arrangement"}),
    "no [DONE]": (only("PresetAnswer", lambda r: replace(r, finish=False)), {"presets"}),
    "invalid JSON": (only("EffectAnswer", lambda r: replace(r, text='{"chains": [{"part": "drums",, }')), {"effects"}),
    "fenced JSON": (everywhere(lambda r: replace(r, text=f"```json\n{r.text}\n```")), set()),
    "prose around JSON": (everywhere(lambda r: replace(r, text=f"Sure! Here it is:\n{r.text}\nEnjoy the track.")), set()),
    "out-of-range notes": (out_of_range, set()),
    "wrong key": (wrong_key, set()),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.trio
async def test_every_fault_ends_in_a_valid_song(fault):
    shape, fallbacks = FAULTS[fault]
    with FakeLLMServer(model=SimulatedModel(shape=shape)) as server:
        draft = await compose_with_llm(server, bars=8, llm_stall_s=0.2)
    song = draft.song()
    assert validation.problems(song) == []
    assert validation.scale_share(song) >= 0.95
    found = sources(draft)
    assert {s for s in LLM_STAGES if found[s] == "fallback"} == fallbacks, found
    assert {s for s in LLM_STAGES if found[s] in ("llm", "cache")} == set(LLM_STAGES) - fallbacks
    for stage in fallbacks & {"intent", "harmony", "arrangement", "presets"}:
        record = next(r for r in draft.stages if r.stage == stage)
        assert record.attempts == (2 if fault == "invalid JSON" else 3), record
    for track in song.tracks:
        low, high = tables().parts.parts[track.part].pitch_range
        assert all(low <= n.pitch <= high and 1 <= n.velocity <= 127 for c in track.clips for n in c.notes)
    drums = {n.pitch for c in song.track("drums").clips for n in c.notes}
    assert drums <= set(tables().parts.drums.gm.values())


@pytest.mark.trio
async def test_invalid_json_gets_one_repair_round_trip_before_the_fallback():
    with FakeLLMServer(model=SimulatedModel(shape=only("EffectAnswer", lambda r: replace(r, text="{oops")))) as server:
        draft = await compose_with_llm(server, bars=8)
    asked = [r for r in server.requests if r.schema == "EffectAnswer"]
    assert len(asked) == 2
    assert asked[1].body["messages"][-1]["role"] == "user" and "could not be used" in asked[1].body["messages"][-1]["content"]
    assert sources(draft)["effects"] == "fallback"


@pytest.mark.trio
async def test_a_wrong_key_progression_is_snapped_back_into_the_scale():
    with FakeLLMServer(model=SimulatedModel(shape=wrong_key)) as server:
        draft = await compose_with_llm(server, bars=8)
    scale = {(pitch_class(draft.intent.key.root) + i) % 12 for i in tables().theory.scales[draft.intent.key.mode].intervals}
    tones = [n % 12 for c in draft.progression.chords for n in c.notes]
    colour = max(OUT_BUDGET, tables().intent.genres[draft.intent.genre.primary].harmony.budget)  # the genre's chromatic colour stays
    assert sum(t in scale for t in tones) / len(tones) >= 1 - colour - 0.05
    assert sources(draft)["harmony"] == "llm"
