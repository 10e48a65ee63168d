"""The language-model backend: any OpenAI-compatible chat-completions server, hosted or local.

Two layers. The client owns the wire: building requests, streaming server-sent events, the in-flight
and requests-per-minute limits, retries with backoff, the stall watchdog, the SQLite answer cache,
finding and validating JSON in what a model wrote, and mapping every foreign error to ``LLMError``.
Read it as ``client`` (``LLMClient``: the public API and its policy) over ``transport`` (one HTTP
attempt), ``limits``, ``retry`` and ``cache``; ``sse``, ``extract`` and ``structured`` are protocol
logic without I/O. The client knows no music.

The stages (``stages``: the pipeline's ``Backend``) know the music: ``schemas`` (what the model is
asked for), ``prompts`` (system prompts, and the context hierarchy rendered), ``repair`` and
``clips`` (answers turned into valid backbeat values), and the fallback to the algorithmic stage.
``errors`` holds the one error root of both.

It never writes outside the cache file, never touches a MIDI port, and never lets an httpx or sqlite3
exception escape. It never blocks trio: sqlite3 runs in worker threads, waits are trio sleeps.
"""

from backbeat.generators.llm.cache import ResponseCache, cache_key
from backbeat.generators.llm.client import DEFAULT_BASE_URL, LLMClient, LLMResult, messages_for
from backbeat.generators.llm.errors import (
    LLMError,
    LLMRejectedError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
    RateLimitedError,
    RepairError,
    StallError,
)
from backbeat.generators.llm.extract import extract_json, parse_partial
from backbeat.generators.llm.limits import RequestLimiter, TokenBucket
from backbeat.generators.llm.retry import RetryPolicy
from backbeat.generators.llm.structured import response_format_for

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
    "RepairError",
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
