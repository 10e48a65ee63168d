"""One attempt at one chat completion: POST, check the status, read the answer under deadlines a
peer cannot extend, and never more of it than the size limit.

Deadlines are absolute, fixed when the attempt starts: the first content must arrive within
``first_content_s`` (keep-alive comments, role-only chunks and trickled bytes are not content),
the whole answer within ``request_s``, and once content flows, more of it within ``stall_s``
of the last. The caller may pass an earlier ``deadline`` of its own (the run's time budget).
Bytes are counted as they are read: past ``max_bytes`` (or ``MAX_ERROR_BYTES`` of an error body)
reading stops with ``OversizeError``, so a flood costs the limit, not the flood.

This is the boundary where httpx's exceptions become ``LLMError`` subclasses (timeouts become
``LLMTimeoutError``, a refused connection ``LLMUnreachableError``, other transport failures and
cut-off streams ``LLMUnavailableError``, error statuses the class their status calls for). Limits,
retries, negotiation and caching are the client's business, not this.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import trio

from backbeat.generators.llm.errors import (
    CutOffError,
    FormatRefusedError,
    LLMAuthError,
    LLMError,
    LLMRejectedError,
    LLMTimeoutError,
    LLMUnavailableError,
    LLMUnreachableError,
    ModelNotFoundError,
    OutOfTimeError,
    OversizeError,
    RateLimitedError,
    StallError,
    TruncatedError,
    quoted,
)
from backbeat.generators.llm.retry import parse_retry_after
from backbeat.generators.llm.sse import SSEDecoder, completion_finish, error_message, parse_completion, parse_event

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1 << 20
"""Characters of one answer's content, and bytes of its body, read at most (1 MiB): the largest
valid answer (a clip at the 4,096-token ceiling) is about 16 kB of content."""
EVENT_BYTES_PER_TOKEN = 512
"""A streamed body may take this many bytes a token of ``max_tokens`` when that is more than
``MAX_ANSWER_BYTES``: every token comes wrapped in an event of 150-250 bytes (id, model, choices)."""
MAX_ERROR_BYTES = 4096
"""Bytes of an error body read at most; its message is quoted in ``QUOTE_LIMIT`` characters."""
ERROR_BODY_S = 5.0
"""Seconds an error body may take to arrive before the status alone is reported."""

_HINTS = {
    401: " (check LLM_API_KEY)",
    403: " (check LLM_API_KEY)",
    404: " (check LLM_MODEL, and that LLM_BASE_URL ends in /v1)",
}
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|\bschema\b|\bgrammar\b", re.I)
"""Words by which a refusal names the request's structured-output field (every known server's do)."""
_FORMAT_STATUSES = frozenset({400, 422, 500})


@dataclass(frozen=True, slots=True)
class Timing:
    """The deadlines of every attempt, in seconds from its start (see the module docstring)."""

    first_content_s: float
    request_s: float
    stall_s: float


class Transport:
    """Sends chat-completion requests to ``url`` through ``http``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        headers: Mapping[str, str],
        timing: Timing,
        *,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.url = url
        self.timing = timing
        self.max_bytes = max_bytes
        self._http = http
        self._headers = {**headers, "Accept": "text/event-stream"}

    async def deltas(self, body: dict[str, Any], deadline: float = float("inf")) -> AsyncIterator[str]:
        """POST ``body`` and yield the answer's content deltas as they arrive.

        Raises:
            TruncatedError: the answer stopped at its token limit (after its deltas were yielded).
            LLMError: the matching subclass for every other failure; never an httpx exception.
        """
        clock = _Clock(self.timing, deadline)
        try:
            response = await self._send(body, clock)
            try:
                if response.status_code >= 400:
                    raise await self._status_error(response, clock)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # The server ignored "stream": true and sends one chat.completion document.
                    raw = await self._read_all(response, clock)
                    if completion_finish(raw) == "length":
                        raise TruncatedError(_cut_message(body), max_tokens=body.get("max_tokens"),
                                             text=parse_completion(raw))
                    yield parse_completion(raw)
                    return
                async for delta in self._events(response, clock, body):
                    yield delta
            finally:
                # Closing must happen even when the attempt was cancelled, and must not hang on a
                # peer that stopped reading.
                with trio.CancelScope(shield=True, deadline=trio.current_time() + 2.0):
                    await response.aclose()
        except httpx.ConnectError as exc:
            raise LLMUnreachableError(f"nothing answers at {self.url} ({quoted(exc, 80) or 'connection refused'})") from exc
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(f"{type(exc).__name__} talking to {self.url}") from exc
        except httpx.TransportError as exc:
            # ReadError, RemoteProtocolError (a stream cut off mid-chunk), ...
            raise LLMUnavailableError(f"{type(exc).__name__} talking to {self.url}: {quoted(exc, 120)}") from exc

    async def _send(self, body: dict[str, Any], clock: _Clock) -> httpx.Response:
        request = self._http.build_request("POST", self.url, json=body, headers=self._headers)
        with trio.move_on_at(clock.first_content) as scope:
            return await self._http.send(request, stream=True)
        raise clock.expired(scope, "the server did not answer")

    async def _events(self, response: httpx.Response, clock: _Clock, body: dict[str, Any]) -> AsyncIterator[str]:
        """Content deltas of an event stream, under the clock's deadlines and the size limit."""
        decoder = SSEDecoder()
        chunks = response.aiter_bytes()
        wire_limit = max(self.max_bytes, EVENT_BYTES_PER_TOKEN * int(body.get("max_tokens") or 0))
        read = written = 0
        finish: str | None = None
        while True:
            with trio.move_on_at(clock.next_content) as scope:
                chunk = await anext(chunks, None)
            if scope.cancelled_caught:
                raise clock.expired(scope, "the answer stalled" if clock.started else "no answer began")
            if chunk is not None:
                read += len(chunk)
                if read > wire_limit:
                    raise OversizeError(f"the answer grew past {wire_limit // 1024} KiB; reading stopped")
            for payload in decoder.feed(chunk) if chunk is not None else decoder.close():
                event = parse_event(payload)
                if event.done:
                    _finished(finish, written > 0, body)
                    return
                finish = event.finish_reason or finish
                if event.content or event.thinking:
                    clock.progressed()
                if event.content:
                    written += len(event.content)
                    if written > self.max_bytes:
                        raise OversizeError(f"the answer grew past {self.max_bytes // 1024} KiB; reading stopped")
                    yield event.content
            if chunk is None:
                if finish is None:
                    raise LLMUnavailableError("the stream ended before the answer did (no [DONE])")
                _finished(finish, written > 0, body)
                return

    async def _read_all(self, response: httpx.Response, clock: _Clock) -> bytes:
        """A whole (non-streamed) body, within the attempt's deadline and the size limit."""
        parts, read = [], 0
        chunks = response.aiter_bytes()
        while True:
            with trio.move_on_at(clock.end) as scope:
                chunk = await anext(chunks, None)
            if scope.cancelled_caught:
                raise clock.expired(scope, "the answer did not complete")
            if chunk is None:
                return b"".join(parts)
            read += len(chunk)
            if read > self.max_bytes:
                raise OversizeError(f"the answer grew past {self.max_bytes // 1024} KiB; reading stopped")
            parts.append(chunk)

    async def _status_error(self, response: httpx.Response, clock: _Clock) -> LLMError:
        """The error for an HTTP error status, with the server's reason from (the start of) the body."""
        raw = b""
        with trio.move_on_at(min(clock.end, trio.current_time() + ERROR_BODY_S)):
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) >= MAX_ERROR_BYTES:
                    break
        raw = raw[:MAX_ERROR_BYTES]
        try:
            reason = error_message(json.loads(raw))
        except ValueError:
            reason = quoted(raw.decode("utf-8", "replace"))
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        message = f"HTTP {status} from {self.url}" + (f": {reason}" if reason else "")
        if status in _FORMAT_STATUSES and _FORMAT_WORDS.search(reason):
            return FormatRefusedError(message, status=status)
        if status == 429:
            return RateLimitedError(message, status=status, retry_after=retry_after)
        if status >= 500 or status == 408:
            return LLMUnavailableError(message, status=status, retry_after=retry_after)
        kind = {401: LLMAuthError, 403: LLMAuthError, 404: ModelNotFoundError}.get(status, LLMRejectedError)
        return kind(message + _HINTS.get(status, ""), status=status)


class _Clock:
    """One attempt's deadlines (trio time): first content, next content, end of the answer."""

    def __init__(self, timing: Timing, deadline: float) -> None:
        now = trio.current_time()
        self.timing = timing
        self.deadline = deadline
        self.end = min(deadline, now + timing.request_s)
        self.first_content = min(self.end, now + timing.first_content_s)
        self.started = False
        self._last = now

    @property
    def next_content(self) -> float:
        return min(self.end, self._last + self.timing.stall_s) if self.started else self.first_content

    def progressed(self) -> None:
        self.started = True
        self._last = trio.current_time()

    def expired(self, scope: trio.CancelScope, what: str) -> LLMError:
        """The error for the deadline that ``scope`` ran into."""
        t = self.timing
        if scope.deadline >= self.deadline:
            return OutOfTimeError(f"{what} before the time budget ran out")
        if scope.deadline >= self.end:
            return LLMTimeoutError(f"no complete answer within {t.request_s:g} s")
        if self.started:
            return StallError(f"the answer stalled: no content for {t.stall_s:g} s")
        return LLMTimeoutError(f"no answer began within {t.first_content_s:g} s")


def _cut_message(body: dict[str, Any]) -> str:
    limit = body.get("max_tokens")
    return f"the answer was cut at {limit} tokens" if limit else "the answer was cut at the server's token limit"


def _finished(finish: str | None, content: bool, body: dict[str, Any]) -> None:
    """Check how a stream ended: at its token limit, or cut off before it began."""
    if finish == "length":
        raise TruncatedError(_cut_message(body), max_tokens=body.get("max_tokens"))
    if finish is None and not content:
        raise CutOffError("the server ended the stream before the answer began (no content, no finish reason)")
