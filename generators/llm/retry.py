"""When to try a request again, and how long to wait first.

Exponential backoff with full jitter (a uniformly random wait between 0 and ``base * 2**n``, capped),
unless the server said when to come back (``Retry-After``, seconds or an HTTP date); a server that
asks for more than ``max_wait_s`` is not waited for at all, so the stage can fall back at once.
Sleeps are trio sleeps: ``trio.testing.MockClock`` makes the tests exact.

A small loop rather than stamina: stamina's jitter is added to the exponential wait rather than
drawn across it, and a Retry-After hint would need its hook; here the whole policy is one screen.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

import trio

from backbeat.generators.llm.errors import TRANSIENT, LLMError, retryable

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    """Attempts in all, the first included."""
    base_s: float = 0.5
    """Upper bound of the first backoff; it doubles with every further retry."""
    cap_s: float = 8.0
    """Upper bound of any backoff drawn at random."""
    max_wait_s: float = 30.0
    """The longest ``Retry-After`` honoured; a longer one ends the attempts instead."""

    def delay(self, attempt: int, error: LLMError, rng: random.Random) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); None: do not retry."""
        if attempt >= self.max_attempts:
            return None
        hinted = getattr(error, "retry_after", None)
        if hinted is not None:
            return hinted if hinted <= self.max_wait_s else None
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or bad."""
    if value is None or not (value := value.strip()):
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # HTTP dates are GMT by definition
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


async def pause_before_retry(policy: RetryPolicy, attempt: int, error: LLMError, rng: random.Random) -> None:
    """Sleep before the attempt after ``attempt``, or re-raise ``error`` if there should be none."""
    wait = policy.delay(attempt, error, rng) if retryable(error) else None
    if wait is None:
        raise error
    # Said at info level: the stage that asked reports the outcome once, in words a producer can use.
    log.info("LLM attempt %d of %d failed (%s); retrying in %.2f s", attempt, policy.max_attempts, error, wait)
    await trio.sleep(wait)


async def retrying(attempt: Callable[[int], Awaitable[T]], policy: RetryPolicy, rng: random.Random) -> T:
    """``await attempt(n)`` for n = 1, 2, ... until it returns, retrying only ``retryable`` errors."""
    n = 1
    while True:
        try:
            return await attempt(n)
        except TRANSIENT as exc:
            await pause_before_retry(policy, n, exc, rng)
        n += 1
