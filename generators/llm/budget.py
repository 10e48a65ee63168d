"""One run's time and health: the deadline every request of a run shares, and whether the server
has already failed in a way every later request would repeat.

A run is one ``backbeat generate`` (``llm_budget_s``) or one song's pass in the daemon
(``llm_live_budget_s``). When the budget is spent, what is left is composed by the algorithmic
stages, each recorded as ``budget``; after a run-ending failure (``errors.RUN_ENDING``: nothing
answers, a refused key, no such model) the rest is composed without asking again, recorded as
``fallback``. Either is said once, in one line a producer can act on.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from backbeat.generators.model import Source

from .errors import LLMAuthError, LLMError, LLMUnreachableError, ModelNotFoundError, quoted

Say = Callable[[str, str], None]
"""(cause, line): says ``line`` unless a line for ``cause`` was said already."""

_ENDINGS: tuple[tuple[type[LLMError], str], ...] = (
    (LLMUnreachableError, "start the server, or check LLM_BASE_URL"),
    (LLMAuthError, "check LLM_API_KEY"),
    (ModelNotFoundError, "check LLM_MODEL, and that LLM_BASE_URL ends in /v1"),
)


class RunBudget:
    """The budget of one run; its clock starts at the first question asked of it."""

    def __init__(self, seconds: float, say: Say) -> None:
        self.seconds = seconds
        self._say = say
        self._deadline: float | None = None
        self.ended: LLMError | None = None
        """The run-ending failure, once there was one."""

    @property
    def deadline(self) -> float:
        """The trio time at which the budget is spent."""
        if self._deadline is None:
            self._deadline = trio.current_time() + self.seconds
        return self._deadline

    @property
    def over(self) -> bool:
        return trio.current_time() >= self.deadline

    def skip(self) -> Source | None:
        """Why the next request should not be sent at all (budget or fallback), or None to send it."""
        if self.ended is not None:
            return "fallback"
        if self.over:
            self.spent()
            return "budget"
        return None

    def spent(self) -> None:
        """Say (once) that the budget ran out."""
        self._say(
            "budget",
            f"the model's time budget ({self.seconds:g} s) ran out; the rest of the song uses the algorithmic "
            "stages (set LLM_BUDGET_S, or LLM_LIVE_BUDGET_S in the daemon, to give it longer)",
        )

    def end(self, error: LLMError) -> None:
        """Stop asking for the rest of the run after ``error`` (one of ``errors.RUN_ENDING``)."""
        if self.ended is None:
            self.ended = error
        fix = next((hint for kind, hint in _ENDINGS if isinstance(error, kind)), "check the LLM settings")
        reason = quoted(str(error).split(" (check")[0], 160)
        self._say("ended", f"{reason}: the rest of the song uses the algorithmic stages ({fix})")
