"""Fixtures for the LLM client tests: a running fake server and clients pointed at it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backbeat.benchmarks.fake_llm import FakeLLMServer
from backbeat.benchmarks.simulated import SimulatedModel
from backbeat.generators import pipeline
from backbeat.generators.llm import LLMClient, ResponseCache, RetryPolicy
from backbeat.generators.llm.stages import LLMStages
from backbeat.generators.pipeline import Draft
from backbeat.generators.settings import Settings

FAST_RETRY = RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.02)
"""Backoff short enough for a test, still exercised."""


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


def settings_for(base_url: str, **overrides: Any) -> Settings:
    """Settings aimed at ``base_url``; no .env, no cache and no key unless ``overrides`` say otherwise."""
    values: dict[str, Any] = {
        "llm_base_url": base_url,
        "llm_api_key": None,
        "llm_model": "test-model",
        "llm_cache": False,
        "llm_timeout_s": 5.0,
        "llm_stall_s": 2.0,
        "llm_max_attempts": 3,
        "max_concurrent_requests": 4,
        "requests_per_minute": 100_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def client_for(
    server: FakeLLMServer,
    *,
    cache_dir: Path | None = None,
    retry: RetryPolicy = FAST_RETRY,
    **overrides: Any,
) -> LLMClient:
    """A client of ``server`` (open it with ``async with``); ``cache_dir`` turns the cache on there."""
    cache = ResponseCache(cache_dir / "llm.sqlite3") if cache_dir is not None else None
    return LLMClient(settings_for(server.url, **overrides), cache=cache, retry=retry, rng=random.Random(7))


# --- the LLM pipeline against the simulated model ------------------------------------------------------


@pytest.fixture
def simulated() -> Iterator[FakeLLMServer]:
    """A fake server whose simulated model answers every stage validly, as fast as it can."""
    with FakeLLMServer(model=SimulatedModel()) as fake:
        yield fake


async def compose_with_llm(
    server: FakeLLMServer,
    prompt: str = "Frank Ocean meets Burial, late-night vibes",
    *,
    seed: int = 3,
    bars: int | None = 16,
    cache_dir: Path | None = None,
    stages: dict[str, Any] | None = None,
    **overrides: Any,
) -> Draft:
    """The whole pipeline with the LLM backend against ``server`` (fast retries, no cache by default)."""
    settings = settings_for(server.url, **overrides)
    async with client_for(server, cache_dir=cache_dir, **overrides) as llm:
        backend = LLMStages(llm, settings, **(stages or {})).backend()
        return await pipeline.compose_async(pipeline.new_draft(prompt, seed=seed, bars=bars), backend=backend)


def sources(draft: Draft) -> dict[str, str]:
    return {r.stage: r.source for r in draft.stages}
