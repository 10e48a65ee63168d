"""The language-model client: any OpenAI-compatible chat-completions server, hosted or local.

This package owns the wire: building requests, streaming server-sent events, the in-flight and
requests-per-minute limits, retries with backoff, the stall watchdog, the SQLite answer cache,
finding and validating JSON in what a model wrote, and mapping every foreign error to ``LLMError``.

Read in layers: ``client`` (``LLMClient``: the public API and its policy) over ``transport`` (one HTTP
attempt), ``limits``, ``retry`` and ``cache``; ``sse``, ``extract`` and ``structured`` are protocol
logic without I/O; ``errors`` holds the one error root.

It must never know music: prompts, the stages and their fallbacks live with the stages that call it.
It never writes outside the cache file, never touches a MIDI port, and never lets an httpx or sqlite3
exception escape. It never blocks trio: sqlite3 runs in worker threads, waits are trio sleeps.
"""

from generators.llm.cache import ResponseCache, cache_key
from generators.llm.client import DEFAULT_BASE_URL, LLMClient, LLMResult, messages_for
from generators.llm.errors import (
    LLMError,
    LLMRejectedError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
    RateLimitedError,
    StallError,
)
from generators.llm.extract import extract_json, parse_partial
from generators.llm.limits import RequestLimiter, TokenBucket
from generators.llm.retry import RetryPolicy
from generators.llm.structured import response_format_for

__all__ = [
    "DEFAULT_BASE_URL",
    "LLMClient",
    "LLMError",
    "LLMRejectedError",
    "LLMResponseError",
    "LLMResult",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "RateLimitedError",
    "RequestLimiter",
    "ResponseCache",
    "RetryPolicy",
    "StallError",
    "TokenBucket",
    "cache_key",
    "extract_json",
    "messages_for",
    "parse_partial",
    "response_format_for",
]
