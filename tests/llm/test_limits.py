"""Limits and retries on trio's MockClock: exact times, no waiting."""

from __future__ import annotations

import random

import pytest
import trio

from backbeat.generators.llm import (
    LLMRejectedError,
    LLMUnavailableError,
    RateLimitedError,
    RequestLimiter,
    RetryPolicy,
    StallError,
    TokenBucket,
)
from backbeat.generators.llm.retry import retrying


async def acquire_times(bucket: TokenBucket, tasks: int) -> list[float]:
    times: list[float] = []

    async def take() -> None:
        await bucket.acquire()
        times.append(trio.current_time())

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(tasks):
            nursery.start_soon(take)
    return [round(t - start, 9) for t in times]


@pytest.mark.trio
async def test_bucket_spaces_requests_evenly_at_the_rate(autojump_clock):
    assert await acquire_times(TokenBucket(60, capacity=1), 4) == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.trio
async def test_bucket_lets_a_burst_through_then_holds_the_rate(autojump_clock):
    assert await acquire_times(TokenBucket(120, capacity=3), 6) == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5]


@pytest.mark.trio
async def test_bucket_refills_while_idle_but_never_beyond_capacity(autojump_clock):
    bucket = TokenBucket(60, capacity=2)
    await acquire_times(bucket, 2)
    await trio.sleep(100)
    assert await acquire_times(bucket, 3) == [0.0, 0.0, 1.0]


@pytest.mark.trio
async def test_a_cancelled_wait_takes_no_token(autojump_clock):
    bucket = TokenBucket(60, capacity=1)
    await bucket.acquire()
    with trio.move_on_after(0.5):
        await bucket.acquire()
    await trio.sleep(0.5)  # one full token has accrued since the first acquire
    before = trio.current_time()
    await bucket.acquire()
    assert trio.current_time() == before


@pytest.mark.trio
async def test_limiter_never_has_more_than_its_slots_in_flight(autojump_clock):
    limiter = RequestLimiter(max_concurrent=3, requests_per_minute=6000)
    in_flight = peak = done = 0

    async def request() -> None:
        nonlocal in_flight, peak, done
        async with limiter.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await trio.sleep(1)
            in_flight -= 1
            done += 1

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(request)
    assert (peak, done) == (3, 10)


@pytest.mark.trio
async def test_limiter_rate_applies_across_slots(autojump_clock):
    limiter = RequestLimiter(max_concurrent=8, requests_per_minute=60, burst=1)
    starts: list[float] = []

    async def request() -> None:
        async with limiter.slot():
            starts.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(request)
    assert [s - starts[0] for s in starts] == [0.0, 1.0, 2.0]


def failing(*errors: Exception, result: str = "ok"):
    """An attempt function that raises ``errors`` in turn, then returns ``result``; logs call times."""
    calls: list[float] = []

    async def attempt(n: int) -> str:
        calls.append(trio.current_time())
        if n <= len(errors):
            raise errors[n - 1]
        return result

    return attempt, calls


@pytest.mark.trio
async def test_retry_after_is_honoured_exactly(autojump_clock):
    attempt, calls = failing(RateLimitedError("429", status=429, retry_after=7.0))
    assert await retrying(attempt, RetryPolicy(), random.Random(1)) == "ok"
    assert calls[1] - calls[0] == 7.0


@pytest.mark.trio
async def test_backoff_is_full_jitter_below_a_doubling_bound(autojump_clock):
    policy = RetryPolicy(max_attempts=4, base_s=1.0, cap_s=3.0)
    errors = [LLMUnavailableError("500", status=500), StallError("stall"), LLMUnavailableError("reset")]
    for seed in range(20):
        attempt, calls = failing(*errors)
        assert await retrying(attempt, policy, random.Random(seed)) == "ok"
        waits = [b - a for a, b in zip(calls, calls[1:])]
        assert 0 <= waits[0] <= 1.0 and 0 <= waits[1] <= 2.0 and 0 <= waits[2] <= 3.0


@pytest.mark.trio
async def test_retries_stop_after_max_attempts(autojump_clock):
    attempt, calls = failing(*[LLMUnavailableError("500", status=500)] * 5)
    with pytest.raises(LLMUnavailableError):
        await retrying(attempt, RetryPolicy(max_attempts=3), random.Random(1))
    assert len(calls) == 3


@pytest.mark.trio
async def test_permanent_errors_and_long_retry_after_are_not_retried(autojump_clock):
    attempt, calls = failing(LLMRejectedError("401", status=401))
    with pytest.raises(LLMRejectedError):
        await retrying(attempt, RetryPolicy(), random.Random(1))
    assert len(calls) == 1
    attempt, calls = failing(RateLimitedError("429", status=429, retry_after=3600))
    with pytest.raises(RateLimitedError):
        await retrying(attempt, RetryPolicy(max_wait_s=30), random.Random(1))
    assert len(calls) == 1
