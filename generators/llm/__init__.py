"""The language-model backend: any OpenAI-compatible chat-completions server, hosted or local.

Two layers. The client owns the wire: building requests, streaming server-sent events, deadlines a
peer cannot extend and size limits on what is read, the in-flight and requests-per-minute limits,
retries with backoff, structured-output negotiation with the server, the SQLite answer cache (and,
beside it, what each server takes), finding and validating JSON in what a model wrote, and mapping
every foreign error to ``LLMError``. Read it as ``client`` (``LLMClient``: the public API and its
policy) over ``transport`` (one HTTP attempt), ``limits``, ``retry`` and ``cache``; ``sse``,
``extract``, ``structured`` and ``negotiation`` are protocol logic without I/O; ``config`` reads the
known servers (config/servers.toml) and the token and floor tables (config/llm.toml). ``probe``
tells which structured-output form a server takes. The client knows no music.

The stages (``stages``: the pipeline's ``Backend``) know the music: ``schemas`` (what the model is
asked for), ``prompts`` (system prompts, and the context hierarchy rendered), ``repair`` and
``clips`` (answers turned into valid backbeat values, and the musical floor a clip must pass),
``parts`` (stage 4, clip by clip), ``asking`` (one question within the run's ``budget``), and the
fallback to the algorithmic stage. ``errors`` holds the one error root of both.

It never writes outside the cache file, never touches a MIDI port, and never lets an httpx or sqlite3
exception escape. It never blocks trio: sqlite3 runs in worker threads, waits are trio sleeps. It
never waits past a deadline and never reads more than the size limit, whatever a server sends.
"""

from backbeat.generators.llm.cache import ProfileStore, ResponseCache, cache_key
from backbeat.generators.llm.client import DEFAULT_BASE_URL, LLMClient, LLMResult, messages_for
from backbeat.generators.llm.errors import (
    CutOffError,
    FormatRefusedError,
    LLMAuthError,
    LLMError,
    LLMRejectedError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
    LLMUnreachableError,
    ModelNotFoundError,
    OutOfTimeError,
    OversizeError,
    RateLimitedError,
    RepairError,
    StallError,
    TruncatedError,
)
from backbeat.generators.llm.extract import extract_json, parse_partial
from backbeat.generators.llm.limits import RequestLimiter, TokenBucket
from backbeat.generators.llm.negotiation import FORM_LABELS, ServerProfile
from backbeat.generators.llm.probe import FormReport, structured_output_form
from backbeat.generators.llm.retry import RetryPolicy
from backbeat.generators.llm.structured import response_format_for

__all__ = [
    "DEFAULT_BASE_URL",
    "FORM_LABELS",
    "CutOffError",
    "FormReport",
    "FormatRefusedError",
    "LLMAuthError",
    "LLMClient",
    "LLMError",
    "LLMRejectedError",
    "LLMResponseError",
    "LLMResult",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "LLMUnreachableError",
    "ModelNotFoundError",
    "OutOfTimeError",
    "OversizeError",
    "ProfileStore",
    "RateLimitedError",
    "RepairError",
    "RequestLimiter",
    "ResponseCache",
    "RetryPolicy",
    "ServerProfile",
    "StallError",
    "TokenBucket",
    "TruncatedError",
    "cache_key",
    "extract_json",
    "messages_for",
    "parse_partial",
    "response_format_for",
    "structured_output_form",
]
