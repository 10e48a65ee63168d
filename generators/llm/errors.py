"""The errors of ``generators.llm``: one root, ``LLMError``, under the package root ``GeneratorError``.

httpx's exceptions never leave this package: ``client`` maps them at the boundary. What an error
means for the caller is a property of its class, so no loop asks questions of messages:
``TRANSIENT`` errors are worth another attempt at the same request; ``RUN_ENDING`` ones (nobody
listens, the key is wrong, the model does not exist) would fail every later request of the run the
same way, so the run stops asking after the first.
"""

from __future__ import annotations

from backbeat.generators.errors import GeneratorError


class LLMError(GeneratorError):
    """Talking to the language model failed; the stage that asked can fall back to its algorithm."""

    attempts: int = 0
    """HTTP requests sent before giving up (set by the client; what a stage records in the manifest)."""


class LLMUnavailableError(LLMError, ConnectionError):
    """The server failed (5xx), or dropped the answer half-way. Transient."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        """HTTP status, when the server answered at all."""
        self.retry_after = retry_after
        """Seconds the server asked us to wait (``Retry-After``), if it said."""


class LLMUnreachableError(LLMUnavailableError):
    """Nothing answers at the server's address (connection refused, no such host). Ends the run:
    asking again a second later finds the same closed port."""


class RateLimitedError(LLMUnavailableError):
    """The server answered 429 Too Many Requests. Transient; ``retry_after`` says when to come back."""


class CutOffError(LLMUnavailableError):
    """The stream ended with ``[DONE]`` but without a finish reason or any content: the server cut a
    waiting request short (llama-cpp-python does this to a second request while it decodes one).
    Transient, and retried once."""


class LLMTimeoutError(LLMError, TimeoutError):
    """The server took longer than ``llm_timeout_s`` to connect or to start answering, or longer
    than ``llm_request_s`` for the whole answer. Transient."""


class StallError(LLMTimeoutError):
    """An answer that had started stopped growing: no content for ``llm_stall_s`` seconds
    (keep-alive comments and empty chunks do not count). Transient."""


class OutOfTimeError(LLMTimeoutError):
    """The caller's deadline (the run's time budget) passed before an answer was complete. Not
    retried: there is no time left to retry in."""


class LLMRejectedError(LLMError, ValueError):
    """The server refused the request (4xx other than 429): wrong key, unknown model, bad field.

    Asking again would get the same answer, so this is never retried.
    """

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


class LLMAuthError(LLMRejectedError):
    """401 or 403: the key is missing or wrong. Ends the run."""


class ModelNotFoundError(LLMRejectedError):
    """404: no such model (or a base URL that does not end in /v1). Ends the run."""


class FormatRefusedError(LLMRejectedError):
    """The server refused the request's ``response_format`` (a 400, 422 or 500 whose message names
    it): the client steps down to a weaker form of structured output and asks again, spending no
    retry budget."""


class LLMResponseError(LLMError, ValueError):
    """The model answered, but not with anything usable: no JSON, or JSON that fails the schema even
    after the repair round-trip."""


class TruncatedError(LLMResponseError):
    """The answer reached its ``max_tokens`` (finish reason ``length``) before it was complete.

    Never pasted into a repair prompt: the caller asks again for less (fewer bars) or falls back.
    """

    def __init__(self, message: str, *, max_tokens: int | None, text: str = ""):
        super().__init__(message)
        self.max_tokens = max_tokens
        """The limit the answer ran into (None when the server's own limit cut it)."""
        self.text = text
        """What had arrived (its finished parts may still be used)."""


class OversizeError(LLMResponseError):
    """The answer (or its error body) grew past the size limit while it was being read; reading
    stopped there. Asking again would bring the same flood, so this is never retried."""


class RepairError(LLMResponseError):
    """The answer matched its schema but holds no usable music (no chord backbeat can build, no
    section it knows): the stage falls back to its algorithm."""


TRANSIENT: tuple[type[LLMError], ...] = (LLMUnavailableError, LLMTimeoutError)
"""Errors another attempt may cure (less the subclasses in ``NOT_RETRIED``)."""
NOT_RETRIED: tuple[type[LLMError], ...] = (LLMUnreachableError, OutOfTimeError)
"""Subclasses of transient errors that are not retried all the same."""
RUN_ENDING: tuple[type[LLMError], ...] = (LLMUnreachableError, LLMAuthError, ModelNotFoundError)
"""Errors after which the rest of a run uses the algorithmic stages without asking again."""


def retryable(error: BaseException) -> bool:
    """Whether another attempt at the same request may succeed."""
    return isinstance(error, TRANSIENT) and not isinstance(error, NOT_RETRIED)


QUOTE_LIMIT = 200
"""Characters of foreign text (an error body, a model's words) quoted in one line at most."""


def quoted(text: object, limit: int = QUOTE_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
