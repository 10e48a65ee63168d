"""Structured output against the test server: schema sent, JSON found, partials, repair, cache."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
import trio
from pydantic import Field

from backbeat.generators.llm import LLMResponseError, response_format_for
from backbeat.generators.model import Model

from .conftest import client_for
from backbeat.benchmarks.fake_llm import Reply


class Bar(Model):
    index: Annotated[int, Field(ge=0)]
    chord_symbol: str


class Sketch(Model):
    """A song sketch: what a stage might ask for (camelCase on the wire, like every backbeat model)."""

    key: str
    bars: list[Bar]


CHORDS = ["Ebm9", "Cbmaj7", "Gb6/9", "Db/F"]
SKETCH = {"key": "Eb minor", "bars": [{"index": i, "chordSymbol": c} for i, c in enumerate(CHORDS)]}
SKETCH_TEXT = json.dumps(SKETCH)
EXPECTED = Sketch.model_validate(SKETCH)


@pytest.mark.trio
async def test_the_models_json_schema_is_sent_as_response_format(server):
    server.script(Reply(text=SKETCH_TEXT))
    async with client_for(server) as llm:
        assert await llm.structured(Sketch, "Sketch a song.", "garage") == EXPECTED
    response_format = server.requests[0].body["response_format"]
    assert response_format == {
        "type": "json_schema",
        "json_schema": {"name": "Sketch", "schema": Sketch.model_json_schema(), "strict": False},
    }
    assert "chordSymbol" in json.dumps(response_format)  # the wire names, as the model validates them
    assert response_format == response_format_for(Sketch)


@pytest.mark.parametrize(
    "text",
    [
        f"```json\n{json.dumps(SKETCH, indent=2)}\n```",
        f"Here is your sketch:\n\n{SKETCH_TEXT}\n\nLet me know if you want changes [or not].",
        f"<think>Eb minor, so {{\"key\": ...}}?</think>\n```\n{SKETCH_TEXT}\n```",
    ],
)
@pytest.mark.trio
async def test_fenced_and_prose_wrapped_json_is_extracted(server, text):
    server.script(Reply(text=text))
    async with client_for(server) as llm:
        result = await llm.structured_result(Sketch, "s")
    assert (result.value, result.attempts, result.repaired) == (EXPECTED, 1, False)
    assert json.loads(result.text) == SKETCH


@pytest.mark.trio
async def test_partial_json_arrives_while_the_answer_streams(server):
    server.script(Reply(text=SKETCH_TEXT, chars_per_token=6, tokens_per_s=60))  # about 0.3 s
    seen: list[tuple[float, int]] = []

    def on_partial(partial: dict) -> None:
        seen.append((trio.current_time(), len(partial.get("bars", []))))

    async with client_for(server) as llm:
        value = await llm.structured(Sketch, "s", on_partial=on_partial)
        done = trio.current_time()
    assert value == EXPECTED
    counts = [n for _, n in seen]
    assert counts == sorted(counts) and counts[-1] == 4
    assert len(set(counts)) >= 4  # it grew bar by bar, not all at once
    # The first bar is final once the second has begun: that happened well before the end.
    first_final = next(t for t, n in seen if n >= 2)
    assert done - first_final > 0.1


@pytest.mark.trio
async def test_an_unusable_answer_gets_exactly_one_repair_round_trip(server):
    wrong = {**SKETCH, "bars": [{"index": -1, "chordSymbol": "Ebm9"}]}
    server.script(Reply(text=json.dumps(wrong)), Reply(text=SKETCH_TEXT))
    async with client_for(server) as llm:
        result = await llm.structured_result(Sketch, "s", "u")
    assert (result.value, result.attempts, result.repaired) == (EXPECTED, 2, True)
    repair = server.requests[1].body
    assert repair["messages"][:2] == server.requests[0].body["messages"]
    assert repair["messages"][2] == {"role": "assistant", "content": json.dumps(wrong)}
    assert repair["messages"][3]["role"] == "user"
    assert "bars.0.index" in repair["messages"][3]["content"]
    assert repair["response_format"] == server.requests[0].body["response_format"]


@pytest.mark.trio
async def test_invalid_json_twice_raises_after_one_repair(server):
    server.script(Reply(text="I'd rather describe it: dark, minor."), Reply(text='{"key": "Eb minor", "bars": [,]}'))
    async with client_for(server) as llm:
        with pytest.raises(LLMResponseError, match="Sketch"):
            await llm.structured(Sketch, "s")
    assert len(server.requests) == 2
    assert "no JSON" in server.requests[1].body["messages"][-1]["content"]


@pytest.mark.trio
async def test_only_answers_that_validated_are_cached(server, tmp_path):
    server.script(Reply(text="nope"), Reply(text="still nope"), Reply(text="```json\n" + SKETCH_TEXT + "\n```"))
    async with client_for(server, cache_dir=tmp_path) as llm:
        with pytest.raises(LLMResponseError):
            await llm.structured(Sketch, "s")
        fresh = await llm.structured_result(Sketch, "s")
        cached = await llm.structured_result(Sketch, "s")
    assert len(server.requests) == 3
    assert (fresh.source, cached.source, cached.attempts) == ("llm", "cache", 0)
    assert cached.value == EXPECTED and cached.text == SKETCH_TEXT
