"""LLMClient against a real HTTP server on 127.0.0.1: requests, streaming, faults, limits, cache."""

from __future__ import annotations

import socket
from contextlib import aclosing

import pytest
import trio

from backbeat.generators.llm import (
    DEFAULT_BASE_URL,
    LLMClient,
    LLMRejectedError,
    LLMTimeoutError,
    LLMUnavailableError,
    LLMUnreachableError,
    RetryPolicy,
    StallError,
)

from .conftest import client_for, settings_for
from backbeat.benchmarks.fake_llm import Reply

TEXT = "Ebm9 - Cbmaj7 - Gb6/9 - Db/F, four bars each, then the drop."


@pytest.mark.trio
async def test_generate_streams_the_answer_and_sends_no_key_when_none_is_set(server):
    server.script(Reply(text=TEXT, tokens_per_s=400))
    async with client_for(server) as llm:
        assert await llm.generate("You write chord progressions.", "Dark garage, Eb minor") == TEXT
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert "authorization" not in request.headers
    assert request.body == {
        "model": "test-model",
        "messages": [
            {"role": "system", "content": "You write chord progressions."},
            {"role": "user", "content": "Dark garage, Eb minor"},
        ],
        "stream": True,
        "max_tokens": 1024,
    }


@pytest.mark.trio
async def test_a_key_is_sent_as_a_bearer_token_and_options_only_when_given(server):
    async with client_for(server, llm_api_key="sk-test") as llm:
        await llm.generate("system only")
        await llm.generate("again", temperature=0.2, seed=42)
    first, second = server.requests
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.body["messages"] == [{"role": "system", "content": "system only"}]
    assert "temperature" not in first.body and "seed" not in first.body
    assert (second.body["temperature"], second.body["seed"]) == (0.2, 42)


@pytest.mark.trio
async def test_only_a_key_means_the_hosted_default_url():
    async with LLMClient(settings_for("", llm_api_key="sk-x")) as llm:
        assert llm.url == f"{DEFAULT_BASE_URL}/chat/completions"


@pytest.mark.trio
async def test_stream_yields_deltas_before_the_answer_ends(server):
    reply = Reply(text=TEXT, tokens_per_s=50)  # 15 tokens over 0.28 s
    server.script(reply)
    arrivals: list[tuple[float, str]] = []
    async with client_for(server) as llm, aclosing(llm.stream("s", "u")) as deltas:
        async for delta in deltas:
            arrivals.append((trio.current_time(), delta))
    assert "".join(d for _, d in arrivals) == TEXT
    assert [d for _, d in arrivals] == reply.tokens()
    assert arrivals[-1][0] - arrivals[0][0] > 0.2


@pytest.mark.trio
async def test_a_server_that_ignores_the_stream_flag_is_understood(server):
    server.script(Reply(text=TEXT, stream=False))
    async with client_for(server) as llm:
        assert await llm.generate("s") == TEXT


@pytest.mark.trio
async def test_server_errors_are_retried_then_reported(server):
    server.script(Reply(status=500), Reply(status=503), Reply(text="third time lucky"))
    async with client_for(server) as llm:
        result = await llm.complete("s")
    assert (result.value, result.attempts, result.source) == ("third time lucky", 3, "llm")

    server.script(*[Reply(status=502, error="bad gateway")] * 3)
    async with client_for(server) as llm:
        with pytest.raises(LLMUnavailableError, match="bad gateway") as caught:
            await llm.generate("s")
    assert caught.value.status == 502
    assert len(server.requests) == 6


@pytest.mark.trio
async def test_429_waits_as_long_as_retry_after_says(server):
    server.script(Reply(status=429, headers={"Retry-After": "1"}), Reply(text="ok"))
    async with client_for(server) as llm:
        assert await llm.generate("s") == "ok"
    gap = server.requests[1].at - server.requests[0].at
    assert 1.0 <= gap < 3.0


@pytest.mark.trio
async def test_client_errors_are_not_retried_and_say_what_to_check(server):
    server.script(Reply(status=404, error="model 'test-model' not found"))
    async with client_for(server) as llm:
        with pytest.raises(LLMRejectedError, match="not found.*LLM_MODEL") as caught:
            await llm.generate("s")
    assert caught.value.status == 404
    assert len(server.requests) == 1


@pytest.mark.trio
async def test_a_server_that_is_not_there_is_unreachable_at_the_first_attempt():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = settings_for(f"http://127.0.0.1:{port}/v1")
    async with LLMClient(settings, retry=RetryPolicy(base_s=2.0, cap_s=2.0)) as llm:
        started = trio.current_time()
        with pytest.raises(LLMUnreachableError, match=f"nothing answers at http://127.0.0.1:{port}") as caught:
            await llm.generate("s")
        took = trio.current_time() - started
    assert caught.value.attempts == 1
    assert took < 1.0, "a closed port is not retried (no backoff of up to 2 s was waited)"


@pytest.mark.trio
async def test_a_stall_mid_stream_fails_the_attempt_and_the_retry_succeeds(server):
    server.script(Reply(text=TEXT, stall_after=3), Reply(text=TEXT))
    started = trio.current_time()
    async with client_for(server, llm_stall_s=0.3) as llm:
        result = await llm.complete("s")
    assert (result.value, result.attempts) == (TEXT, 2)
    assert trio.current_time() - started >= 0.3
    assert len(server.requests) == 2


@pytest.mark.trio
async def test_stalling_every_time_ends_in_a_stall_error(server):
    server.script(*[Reply(text=TEXT, stall_after=1)] * 3)
    async with client_for(server, llm_stall_s=0.2) as llm:
        with pytest.raises(StallError):
            await llm.generate("s")
    assert len(server.requests) == 3


@pytest.mark.trio
async def test_a_slow_first_token_is_not_a_stall_but_no_answer_at_all_times_out(server):
    server.script(Reply(text="late", first_token_s=0.3), Reply(text="never", first_token_s=5.0))
    async with client_for(server, llm_stall_s=0.1, llm_timeout_s=0.6, retry=RetryPolicy(max_attempts=1)) as llm:
        assert await llm.generate("s") == "late"
        with pytest.raises(LLMTimeoutError) as caught:
            await llm.generate("s")
    assert not isinstance(caught.value, StallError)


@pytest.mark.trio
async def test_keep_alive_comments_do_not_extend_the_wait_for_content(server):
    server.script(Reply(text="worth the wait", first_token_s=0.6, ping_s=0.05),
                  Reply(text="too late", first_token_s=5.0, ping_s=0.05))
    async with client_for(server, llm_stall_s=0.2, llm_timeout_s=1.5, retry=RetryPolicy(max_attempts=1)) as llm:
        # pings arrive far more often than the stall limit, and the answer still comes in time
        assert await llm.generate("a long prompt to read") == "worth the wait"
        started = trio.current_time()
        with pytest.raises(LLMTimeoutError, match="no answer began within 1.5 s"):
            await llm.generate("another long prompt")
    assert 1.4 <= trio.current_time() - started < 3.0


@pytest.mark.parametrize("fault", [Reply(text=TEXT, drop_after=2), Reply(text=TEXT, finish=False)])
@pytest.mark.trio
async def test_truncated_streams_are_retried(server, fault):
    server.script(fault, Reply(text=TEXT))
    async with client_for(server) as llm:
        result = await llm.complete("s")
    assert (result.value, result.attempts) == (TEXT, 2)


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.trio
async def test_requests_in_flight_never_exceed_the_limit(server, limit):
    # Each answer takes 0.25 s, long enough for the first `limit` requests to overlap on a busy machine.
    server.default = Reply(text="part", first_token_s=0.25)
    async with client_for(server, max_concurrent_requests=limit) as llm:
        async with trio.open_nursery() as nursery:
            for part in range(5):
                nursery.start_soon(llm.generate, f"part {part}")
    assert len(server.requests) == 5
    assert server.max_in_flight == limit, [round(r.at - server.requests[0].at, 3) for r in server.requests]


@pytest.mark.trio
async def test_stream_retries_only_until_the_first_delta(server):
    server.script(Reply(status=500), Reply(text=TEXT), Reply(text=TEXT, stall_after=2))
    async with client_for(server, llm_stall_s=0.2) as llm:
        async with aclosing(llm.stream("s")) as deltas:
            assert "".join([d async for d in deltas]) == TEXT
        received: list[str] = []
        with pytest.raises(StallError):
            async with aclosing(llm.stream("s", "again")) as deltas:
                async for delta in deltas:
                    received.append(delta)
    assert len(received) == 2  # the caller holds part of an answer: it is told, not given a second one
    assert len(server.requests) == 3


@pytest.mark.trio
async def test_an_identical_request_is_answered_from_the_cache(server, tmp_path):
    server.default = Reply(text=TEXT)
    async with client_for(server, cache_dir=tmp_path) as llm:
        first = await llm.complete("s", "u", seed=3)
        second = await llm.complete("s", "u", seed=3)
        assert len(server.requests) == 1
        assert (first.source, second.source) == ("llm", "cache")
        assert (second.value, second.attempts) == (TEXT, 0)
        async with aclosing(llm.stream("s", "u", seed=3)) as deltas:
            assert [d async for d in deltas] == [TEXT]
        assert len(server.requests) == 1

        await llm.generate("s", "u", seed=4)  # a different seed is a different request
        fresh = await llm.complete("s", "u", seed=3, no_cache=True)
        assert (fresh.source, len(server.requests)) == ("llm", 3)

    async with client_for(server, cache_dir=tmp_path) as again:  # the cache outlives the client
        assert (await again.complete("s", "u", seed=3)).source == "cache"
    assert len(server.requests) == 3


@pytest.mark.trio
async def test_an_unreadable_cache_is_skipped_not_fatal(server, tmp_path, caplog):
    (tmp_path / "llm.sqlite3").write_bytes(b"this is not a database" * 100)
    async with client_for(server, cache_dir=tmp_path) as llm:
        assert (await llm.complete("s")).source == "llm"
        assert (await llm.complete("s")).source == "llm"
    assert len(server.requests) == 2
    assert "LLM cache" in caplog.text
