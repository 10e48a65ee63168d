"""One question to the model on behalf of a stage, and what came of it (``Asked``): the repaired
value or none, where it came from, how many requests it took, how long it worked and queued, and —
when it fell back — why, in words a producer can act on.

Every request of a run shares the run's deadline (``budget.RunBudget``); a request the budget no
longer allows is not sent, and a run-ending failure stops the asking for the whole run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from backbeat.generators.errors import GeneratorError
from backbeat.generators.model import Source

from .budget import RunBudget
from .client import LLMClient
from .errors import (
    RUN_ENDING,
    LLMError,
    LLMTimeoutError,
    OutOfTimeError,
    OversizeError,
    StallError,
    TruncatedError,
    quoted,
)

T = TypeVar("T")

_HINTS: tuple[tuple[type[LLMError], str], ...] = (
    (StallError, "raise LLM_STALL_S, or lower MAX_CONCURRENT_REQUESTS"),
    (LLMTimeoutError, "a slow local model may need a larger LLM_TIMEOUT_S"),
    (OversizeError, "the server sent far more than any answer needs"),
)
"""What a producer can do about an error of each kind (the first match counts)."""


@dataclass(frozen=True, slots=True)
class Asked(Generic[T]):
    """The outcome of one question."""

    value: T | None
    """The repaired value; None when the stage falls back."""
    source: Source
    """llm or cache with a value; fallback or budget without."""
    attempts: int = 1
    """HTTP requests it took (at least 1, as the manifest counts)."""
    reason: str | None = None
    """Why there is no value, in a producer's words."""
    work_ms: float = 0.0
    queued_ms: float = 0.0
    cut: TruncatedError | None = None
    """The answer ran into its token limit (its finished parts may still be used)."""


def reason_for(error: BaseException) -> str:
    """An error as the one-line reason a producer reads, with what to do about it where that helps."""
    text = quoted(error, 160)
    hint = next((h for kind, h in _HINTS if isinstance(error, kind)), None)
    return f"{text}; {hint}" if hint else text


async def ask(
    llm: LLMClient,
    budget: RunBudget,
    schema: type[BaseModel],
    system: str,
    user: str,
    fix: Callable[[Any], T],
    *,
    seed: int,
    no_cache: bool = False,
    on_partial: Callable[[Any], None] | None = None,
    max_tokens: int | None = None,
) -> Asked[T]:
    """Ask ``llm`` for ``schema`` and repair the answer with ``fix``; never raises an ``LLMError``."""
    skipped = budget.skip()
    if skipped is not None:
        why = "the time budget was spent" if skipped == "budget" else f"the model is out of reach ({quoted(budget.ended, 120)})"
        return Asked(None, skipped, reason=why)
    started = time.perf_counter()
    try:
        result = await llm.structured_result(
            schema, system, user, seed=seed, no_cache=no_cache, on_partial=on_partial,
            max_tokens=max_tokens, deadline=budget.deadline,
        )
    except OutOfTimeError as e:
        budget.spent()
        return Asked(None, "budget", max(1, e.attempts), "the time budget ran out", _ms(started))
    except TruncatedError as e:
        return Asked(None, "fallback", max(1, e.attempts), reason_for(e), _ms(started), cut=e)
    except RUN_ENDING as e:
        budget.end(e)
        return Asked(None, "fallback", max(1, e.attempts), reason_for(e), _ms(started))
    except LLMError as e:
        return Asked(None, "fallback", max(1, e.attempts), reason_for(e), _ms(started))
    work = max(0.0, _ms(started) - result.queued_ms)
    try:
        value = fix(result.value)
    except (GeneratorError, ValidationError, ValueError, KeyError, IndexError) as e:
        return Asked(None, "fallback", max(1, result.attempts), f"the answer could not be used: {quoted(e, 160)}",
                     work, result.queued_ms)
    return Asked(value, result.source, max(1, result.attempts), None, work, result.queued_ms)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
