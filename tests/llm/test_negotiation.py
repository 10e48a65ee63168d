"""Structured-output negotiation against the loopback server emulating each known server
(benchmarks/emulations.py): the server is detected, the strongest form it takes is used, a refusal
that names the format steps down without spending retries, what worked is remembered per base URL
and model, a server that decodes one request at a time gets one, and every step is said once."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import trio

from backbeat.benchmarks.fake_llm import FakeLLMServer, Reply
from backbeat.benchmarks.simulated import SimulatedModel
from backbeat.generators.llm import (
    FormatRefusedError,
    LLMClient,
    LLMResponseError,
    ProfileStore,
    ServerProfile,
    structured_output_form,
)
from backbeat.generators.llm.config import known_servers
from backbeat.generators.llm.negotiation import detect
from backbeat.generators.llm.schemas import HarmonyAnswer, IntentAnswer

from .conftest import FAST_RETRY, compose_with_llm, settings_for, sources

PROMPT = ("You read prompts.", 'Prompt: "dark garage, 130 BPM"')


def client(server: FakeLLMServer, lines: list[str], tmp_path: Path | None = None, **overrides) -> LLMClient:
    """A client of ``server`` whose notices land in ``lines``; with ``tmp_path`` it remembers there."""
    profiles = ProfileStore(tmp_path / "llm.sqlite3") if tmp_path is not None else None
    return LLMClient(settings_for(server.url, **overrides), retry=FAST_RETRY, notify=lines.append, profiles=profiles)


EXPECTED = {
    # emulated server -> (the form that works, requests it took: refusals + the answer)
    "openai": ("json_schema", 1),
    "ollama": ("json_schema", 1),
    "llamacpp": ("json_schema", 1),
    "llamacpp-2024": ("json_object_schema", 2),
    "llama-cpp-python": ("json_object_schema", 1),
    "vllm": ("json_schema", 1),
    "lmstudio": ("json_schema", 1),
    "generic": ("json_schema", 1),
}


@pytest.mark.parametrize("emulated", EXPECTED)
@pytest.mark.trio
async def test_each_known_server_gets_the_strongest_form_it_takes(emulated):
    form, requests = EXPECTED[emulated]
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(), emulate=emulated) as server:
        async with client(server, lines) as llm:
            result = await llm.structured_result(IntentAnswer, *PROMPT)
            profile = await llm.profile()
    assert result.form == form and result.attempts == requests
    assert [r.form for r in server.requests][-1] == form
    assert profile.server == ("llamacpp" if emulated == "llamacpp-2024" else emulated)
    refusals = [line for line in lines if "refused" in line]
    assert refusals == (["the server refused json_schema; using json_object + schema"] if requests == 2 else [])


@pytest.mark.trio
async def test_a_500_that_names_the_format_steps_down_and_spends_no_retry_budget():
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(), emulate="llama-cpp-python") as server:
        # told it is a generic server, the client starts at json_schema, as it did before
        async with client(server, lines, llm_server="generic", llm_max_attempts=1) as llm:
            first = await llm.structured_result(IntentAnswer, *PROMPT)
            second = await llm.structured_result(IntentAnswer, PROMPT[0], 'Prompt: "house"')
    assert [r.form for r in server.requests] == ["json_schema", "json_object_schema", "json_object_schema"]
    assert (first.attempts, second.attempts) == (2, 1)
    assert lines.count("the server refused json_schema; using json_object + schema") == 1


@pytest.mark.trio
async def test_every_form_refused_ends_in_plain_text_then_in_the_refusal():
    everything = {f: (400, "response_format is not supported") for f in ("json_schema", "json_object_schema", "json_object", "text")}
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(), emulate="generic") as server:
        server.emulation = type(server.emulation)(owned_by="someone", refuses=everything)
        async with client(server, lines) as llm:
            with pytest.raises(FormatRefusedError, match="HTTP 400"):
                await llm.structured_result(IntentAnswer, *PROMPT)
    assert [r.form for r in server.requests] == ["json_schema", "json_object_schema", "json_object", "text"]
    assert len(lines) == 3 and lines[-1].endswith("using plain text with the schema in the prompt")


@pytest.mark.trio
async def test_plain_text_with_the_schema_in_the_prompt_still_validates():
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(), emulate="lmstudio") as server:
        async with client(server, lines, llm_server="lmstudio") as llm:
            llm._profile = ServerProfile("lmstudio", "json_object", origin="configured")  # as a stale memory would
            result = await llm.structured_result(IntentAnswer, *PROMPT)
    assert [r.form for r in server.requests] == ["json_object", "text"]
    assert result.form == "text" and result.value.tempo_bpm == 130
    system = server.requests[-1].body["messages"][0]["content"]
    assert "The answer's JSON schema" in system and '"title":"IntentAnswer"' in system


@pytest.mark.trio
async def test_a_schema_a_server_drops_is_also_in_the_prompt():
    with FakeLLMServer(model=SimulatedModel(), emulate="ollama") as server:
        async with client(server, []) as llm:
            llm._profile = ServerProfile("ollama", "json_object_schema", origin="configured")
            result = await llm.structured_result(IntentAnswer, *PROMPT)
    assert result.form == "json_object_schema" and result.value.tempo_bpm == 130 and not result.repaired
    assert "The answer's JSON schema" in server.requests[0].body["messages"][0]["content"]
    with FakeLLMServer(model=SimulatedModel(), emulate="llama-cpp-python") as server:
        async with client(server, []) as llm:
            await llm.structured_result(IntentAnswer, *PROMPT)
    assert "The answer's JSON schema" not in server.requests[0].body["messages"][0]["content"], "enforced: not repeated"


@pytest.mark.trio
async def test_what_worked_is_remembered_per_base_url_and_model(tmp_path):
    with FakeLLMServer(model=SimulatedModel(), emulate="llamacpp-2024") as server:
        async with client(server, [], tmp_path) as llm:
            await llm.structured_result(IntentAnswer, *PROMPT)
        async with client(server, [], tmp_path) as again:
            result = await again.structured_result(IntentAnswer, *PROMPT)
            profile = await again.profile()
        async with client(server, [], tmp_path, llm_model="another-model") as other:
            await other.structured_result(IntentAnswer, *PROMPT)
    assert (profile.origin, profile.form, result.attempts) == ("memory", "json_object_schema", 1)
    assert [r.form for r in server.requests] == ["json_schema", "json_object_schema", "json_object_schema",
                                                 "json_schema", "json_object_schema"]


@pytest.mark.trio
async def test_doctor_asks_once_then_reads_the_memory(tmp_path):
    with FakeLLMServer(model=SimulatedModel(), emulate="llama-cpp-python") as server:
        settings = settings_for(server.url, llm_cache=True, llm_cache_path=tmp_path / "llm.sqlite3")
        asked = await structured_output_form(settings)
        remembered = await structured_output_form(settings)
        requests = len(server.requests)
    assert (asked.server, asked.form, asked.origin, asked.serial) == ("llama-cpp-python", "json_object_schema", "asked", True)
    assert remembered.origin == "memory" and remembered.form == "json_object_schema" and requests == 1
    assert asked.line() == "llama-cpp-python takes json_object + schema (negotiated now); one request at a time"


@pytest.mark.trio
async def test_doctor_reports_a_server_that_cannot_be_asked():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = await structured_output_form(settings_for(f"http://127.0.0.1:{port}/v1"))
    assert report.server == "generic" and report.error and "nothing answers" in report.error


def test_detection_reads_owned_by_then_the_server_header_then_host_and_port():
    models = lambda owner: {"data": [{"id": "m", "owned_by": owner}]}  # noqa: E731
    assert {row: detect("http://127.0.0.1:1/v1", models(owner)) for row, owner in
            [("llama-cpp-python", "me"), ("llamacpp", "llamacpp"), ("vllm", "vllm"), ("ollama", "library"),
             ("lmstudio", "organization_owner"), ("openai", "system")]} == {
        row: row for row in ("llama-cpp-python", "llamacpp", "vllm", "ollama", "lmstudio", "openai")}
    assert detect("http://127.0.0.1:1/v1", None, {"server": "llama.cpp"}) == "llamacpp"
    assert detect("https://api.openai.com/v1") == "openai"
    assert detect("http://127.0.0.1:11434/v1") == "ollama"
    assert detect("http://127.0.0.1:8000/v1") == "generic", "8000 is both vLLM's and llama-cpp-python's"
    assert set(known_servers()) >= {"openai", "ollama", "llamacpp", "llama-cpp-python", "vllm", "lmstudio", "generic"}
    assert all(row.source for row in known_servers().values())


# --- one request at a time --------------------------------------------------------------------------


@pytest.mark.trio
async def test_a_server_known_to_decode_one_at_a_time_gets_one_request_at_a_time():
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(first_token_s=0.05), emulate="llama-cpp-python") as server:
        async with client(server, lines, max_concurrent_requests=4) as llm:
            async with trio.open_nursery() as nursery:
                for _ in range(4):
                    nursery.start_soon(llm.structured_result, IntentAnswer, *PROMPT)
    assert (server.max_in_flight, server.cut_off, len(server.requests)) == (1, 0, 4)
    assert lines == ["llama-cpp-python decodes one request at a time: sending one request at a time"]


@pytest.mark.trio
async def test_a_cut_off_stream_while_another_is_answered_means_one_at_a_time():
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(first_token_s=0.2), emulate="llama-cpp-python") as server:
        async with client(server, lines, llm_server="generic", max_concurrent_requests=4) as llm:
            results = []

            async def one() -> None:
                results.append(await llm.structured_result(IntentAnswer, *PROMPT))

            async with trio.open_nursery() as nursery:
                for _ in range(4):
                    nursery.start_soon(one)
            profile = await llm.profile()
    assert server.cut_off >= 1 and len(results) == 4 and all(r.value.tempo_bpm == 130 for r in results)
    assert profile.serial and llm.limiter.serial
    assert [line for line in lines if "one request at a time" in line] == [
        f"the server at {server.url} decodes one request at a time: sending one request at a time"]


@pytest.mark.trio
async def test_a_stream_cut_off_before_it_began_is_retried_once_not_taken_as_empty(server):
    server.script(Reply(cut_off=True), Reply(text='{"tempo_bpm": 130}'), Reply(cut_off=True), Reply(cut_off=True))
    async with client(server, []) as llm:
        result = await llm.structured_result(IntentAnswer, *PROMPT)
        with pytest.raises(LLMResponseError, match="cut the answer off before it began, twice") as caught:
            await llm.structured_result(HarmonyAnswer, *PROMPT)
    assert (result.value.tempo_bpm, result.attempts) == (130, 2)
    assert caught.value.attempts == 2 and len(server.requests) == 4


# --- the pipeline against each server ---------------------------------------------------------------


@pytest.mark.parametrize("emulated", ["llama-cpp-python", "lmstudio", "llamacpp-2024"])
@pytest.mark.trio
async def test_a_whole_song_against_each_server_comes_from_the_model(emulated):
    lines: list[str] = []
    with FakeLLMServer(model=SimulatedModel(), emulate=emulated) as server:
        draft = await compose_with_llm(server, bars=8, stages={"warn": lines.append})
    assert set(sources(draft).values()) <= {"llm", "algorithmic"}, sources(draft)
    assert server.cut_off == 0
    refusals = [line for line in lines if "refused" in line]
    assert len(refusals) == (1 if emulated == "llamacpp-2024" else 0), lines
    forms = {r.form for r in server.requests}
    assert forms == {EXPECTED[emulated][0]} | ({"json_schema"} if emulated == "llamacpp-2024" else set())
    assert json.loads(server.requests[-1].body["messages"][1]["content"].splitlines()[0].split(": ", 1)[1])["prompt"]
