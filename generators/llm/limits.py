"""Request limits, trio-native: how many requests may be in flight, and how fast new ones may start.

``TokenBucket`` refills continuously at ``requests_per_minute / 60`` tokens a second up to
``capacity``; ``acquire`` takes one token, waiting (first come, first served) until there is one.
``RequestLimiter`` combines it with a ``trio.CapacityLimiter`` whose size can shrink to one when the
server turns out to decode one request at a time (``serialize``). Both read time only through trio, so
``trio.testing.MockClock`` makes their tests exact. (aiolimiter cannot serve here: it is asyncio-only.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from backbeat.generators.settings import Settings


class TokenBucket:
    """At most ``capacity`` requests at once, then ``requests_per_minute`` spread evenly."""

    def __init__(self, requests_per_minute: float, capacity: float = 1.0) -> None:
        if requests_per_minute <= 0 or capacity < 1:
            raise ValueError("a token bucket needs a positive rate and room for at least one token")
        self.rate = requests_per_minute / 60.0
        """Tokens added per second."""
        self.capacity = float(capacity)
        self._tokens = self.capacity
        self._updated: float | None = None
        # trio.Lock is fair: waiters get their tokens in arrival order.
        self._lock = trio.Lock()

    async def acquire(self) -> None:
        """Take one token, sleeping until one has accrued. Cancelling the wait takes nothing."""
        async with self._lock:
            now = trio.current_time()
            self._refill(now)
            if self._tokens < 1.0:
                await trio.sleep_until(now + (1.0 - self._tokens) / self.rate)
                self._refill(trio.current_time())
            self._tokens -= 1.0

    def _refill(self, now: float) -> None:
        if self._updated is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now


class RequestLimiter:
    """Concurrency and rate limits for every request one client sends, shared by all its tasks."""

    def __init__(self, max_concurrent: int, requests_per_minute: float, burst: int | None = None) -> None:
        self.in_flight = trio.CapacityLimiter(max_concurrent)
        # The bucket holds a minute's worth: a song's clips start as fast as the in-flight limit
        # lets them, and only a run that keeps asking for more than a minute is held to the rate.
        capacity = burst if burst is not None else max(1, int(requests_per_minute))
        self.bucket = TokenBucket(requests_per_minute, capacity)

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimiter:
        return cls(settings.max_concurrent_requests, settings.requests_per_minute)

    @property
    def serial(self) -> bool:
        return self.in_flight.total_tokens == 1

    def serialize(self) -> None:
        """From now on one request in flight at a time (requests already in flight finish)."""
        self.in_flight.total_tokens = 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold one in-flight slot for the body of the ``async with``; binds the seconds spent
        waiting for it (queueing, reported apart from the request's own time).

        The slot is taken before the token, so a request's start time is its token's time and
        starts are never closer together than the bucket allows.
        """
        asked = trio.current_time()
        async with self.in_flight:
            await self.bucket.acquire()
            yield trio.current_time() - asked
