"""The errors of ``generators.llm``: one root, ``LLMError``, under the package root ``GeneratorError``.

httpx's exceptions never leave this package: ``client`` maps them at the boundary. Which errors are
worth another attempt is a property of the class (``TRANSIENT``), so the retry loop asks no questions.
"""

from __future__ import annotations

from backbeat.generators.errors import GeneratorError


class LLMError(GeneratorError):
    """Talking to the language model failed; the stage that asked can fall back to its algorithm."""

    attempts: int = 0
    """HTTP requests sent before giving up (set by the client; what a stage records in the manifest)."""


class LLMUnavailableError(LLMError, ConnectionError):
    """The server cannot be reached, failed (5xx), or dropped the answer half-way. Transient."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        """HTTP status, when the server answered at all."""
        self.retry_after = retry_after
        """Seconds the server asked us to wait (``Retry-After``), if it said."""


class RateLimitedError(LLMUnavailableError):
    """The server answered 429 Too Many Requests. Transient; ``retry_after`` says when to come back."""


class LLMTimeoutError(LLMError, TimeoutError):
    """The server took longer than ``llm_timeout_s`` to connect or to start answering. Transient."""


class StallError(LLMTimeoutError):
    """An answer that had started stopped flowing: no bytes for ``llm_stall_s`` seconds. Transient."""


class LLMRejectedError(LLMError, ValueError):
    """The server refused the request (4xx other than 429): wrong key, unknown model, bad field.

    Asking again would get the same answer, so this is never retried.
    """

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


class LLMResponseError(LLMError, ValueError):
    """The model answered, but not with anything usable: no JSON, or JSON that fails the schema even
    after the repair round-trip."""


TRANSIENT: tuple[type[LLMError], ...] = (LLMUnavailableError, LLMTimeoutError)
"""Errors another attempt may cure."""


class RepairError(LLMResponseError):
    """The answer matched its schema but holds no usable music (no chord backbeat can build, no
    section it knows): the stage falls back to its algorithm."""
