"""One attempt at one chat completion: POST, check the status, read the event stream under a watchdog.

This is the boundary where httpx's exceptions become ``LLMError`` subclasses (timeouts become
``LLMTimeoutError``, transport failures and cut-off streams ``LLMUnavailableError``, error statuses
the class their status calls for). Limits, retries and caching are the client's business, not this.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import trio

from backbeat.generators.llm.errors import (
    LLMError,
    LLMRejectedError,
    LLMTimeoutError,
    LLMUnavailableError,
    RateLimitedError,
    StallError,
)
from backbeat.generators.llm.retry import parse_retry_after
from backbeat.generators.llm.sse import SSEDecoder, error_message, parse_completion, parse_event

log = logging.getLogger(__name__)

_HINTS = {
    401: " (check LLM_API_KEY)",
    403: " (check LLM_API_KEY)",
    404: " (check LLM_MODEL, and that LLM_BASE_URL ends in /v1)",
}


class Transport:
    """Sends chat-completion requests to ``url`` through ``http``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        headers: Mapping[str, str],
        *,
        first_byte_s: float,
        stall_s: float,
    ) -> None:
        self.url = url
        self._http = http
        self._headers = {**headers, "Accept": "text/event-stream"}
        self._first_byte_s = first_byte_s
        self._stall_s = stall_s

    async def deltas(self, body: dict[str, Any]) -> AsyncIterator[str]:
        """POST ``body`` and yield the answer's content deltas as they arrive.

        Raises:
            LLMError: the matching subclass; never an httpx exception.
        """
        try:
            async with self._http.stream("POST", self.url, json=body, headers=self._headers) as response:
                if response.status_code >= 400:
                    raise await self._status_error(response)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # The server ignored "stream": true and sends one chat.completion document.
                    with trio.move_on_after(self._first_byte_s) as scope:
                        raw = await response.aread()
                    if scope.cancelled_caught:
                        raise LLMTimeoutError(f"no complete answer within {self._first_byte_s:g} s")
                    yield parse_completion(raw)
                    return
                async for delta in self._watched_events(response):
                    yield delta
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(f"{type(exc).__name__} talking to {self.url}") from exc
        except httpx.TransportError as exc:
            # ConnectError, ReadError, RemoteProtocolError (a stream cut off mid-chunk), ...
            raise LLMUnavailableError(f"{type(exc).__name__} talking to {self.url}: {exc}") from exc

    async def _watched_events(self, response: httpx.Response) -> AsyncIterator[str]:
        """Content deltas of an event stream; a silence longer than the stall limit ends the attempt."""
        decoder = SSEDecoder()
        chunks = response.aiter_bytes()
        started = finished = False
        while True:
            # The first byte may take as long as the server needs to read the prompt (llm_timeout_s);
            # once the answer flows, a shorter silence already means the generation stalled.
            limit = self._stall_s if started else self._first_byte_s
            with trio.move_on_after(limit) as watchdog:
                chunk = await anext(chunks, None)
            if watchdog.cancelled_caught:
                if started:
                    raise StallError(f"the answer stalled: no bytes for {limit:g} s")
                raise LLMTimeoutError(f"no answer began within {limit:g} s")
            started = True
            for payload in decoder.feed(chunk) if chunk is not None else decoder.close():
                event = parse_event(payload)
                if event.done:
                    return
                if event.finish_reason is not None:
                    finished = True
                    if event.finish_reason == "length":
                        log.warning("the answer was cut off at the server's token limit")
                if event.content:
                    yield event.content
            if chunk is None:
                if not finished:
                    raise LLMUnavailableError("the stream ended before the answer did (no [DONE])")
                return

    async def _status_error(self, response: httpx.Response) -> LLMError:
        """The error for an HTTP error status, with the server's reason from the (small) body."""
        raw = b""
        with trio.move_on_after(self._stall_s):
            raw = await response.aread()
        try:
            reason = error_message(json.loads(raw))
        except ValueError:
            reason = raw.decode("utf-8", "replace")[:300].strip()
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        message = f"HTTP {status} from {self.url}" + (f": {reason}" if reason else "")
        if status == 429:
            return RateLimitedError(message, status=status, retry_after=retry_after)
        if status >= 500 or status == 408:
            return LLMUnavailableError(message, status=status, retry_after=retry_after)
        return LLMRejectedError(message + _HINTS.get(status, ""), status=status)
