"""``LLMClient``: chat completions from any OpenAI-compatible server, streamed, limited, retried, cached.

Layers, innermost first: ``transport.Transport`` makes one attempt (one HTTP request, its event
stream read under a stall watchdog, httpx's errors mapped to ours); ``_request`` runs attempts inside
the limits and the retry loop; ``complete``, ``stream`` and ``structured_result`` add the cache and, for
structured output, extraction, validation and one repair round-trip. ``generate`` and ``structured``
are the seed's signatures over them, returning bare values.

Every request streams (``"stream": true``): the watchdog needs bytes to watch, and partial JSON needs
text to parse. A server that ignores the flag and sends one JSON document is understood too.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import httpx
import trio
from pydantic import BaseModel, ValidationError

from backbeat.generators.llm.cache import DEFAULT_PATH, ResponseCache, cache_key
from backbeat.generators.llm.errors import TRANSIENT, LLMError, LLMResponseError
from backbeat.generators.llm.extract import parse_partial
from backbeat.generators.llm.limits import RequestLimiter
from backbeat.generators.llm.retry import RetryPolicy, pause_before_retry, retrying
from backbeat.generators.llm.structured import OnPartial, PartialFeed, repair_prompt, response_format_for, validated
from backbeat.generators.llm.transport import Transport
from backbeat.generators.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""Where requests go when only ``llm_api_key`` is set."""

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Message = dict[str, str]
OnText = Callable[[str], None]
"""Called with the whole text of the current attempt each time it grows."""


@dataclass(frozen=True, slots=True)
class LLMResult(Generic[T]):
    """An answer and how it was obtained (what a stage records in the session manifest)."""

    value: T
    """The text, or the validated model instance."""
    text: str
    """The final text: the whole answer, or for structured calls the JSON that validated."""
    source: Literal["llm", "cache"]
    attempts: int
    """HTTP requests sent for this answer, retries and the repair round-trip included; 0 from cache."""
    duration_ms: float
    repaired: bool = False
    """The first answer failed validation and the repair round-trip fixed it."""


def messages_for(system_prompt: str, user_prompt: str | None = None) -> list[Message]:
    """The chat messages of the seed's ``generate(systemPrompt, userPrompt?)``."""
    messages = [{"role": "system", "content": system_prompt}]
    if user_prompt is not None:
        messages.append({"role": "user", "content": user_prompt})
    return messages


class LLMClient:
    """One server, one model, one set of limits; share one client between all tasks of a process.

    Use as ``async with LLMClient(settings) as llm:`` so the connection pool is closed.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        cache: ResponseCache | None = None,
        limiter: RequestLimiter | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.model = settings.llm_model
        self.base_url = (settings.llm_base_url or DEFAULT_BASE_URL).rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        headers = {"User-Agent": "backbeat"}
        if settings.llm_api_key is not None:
            headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(settings.llm_timeout_s))
        self._transport = Transport(
            self._http, self.url, headers, first_byte_s=settings.llm_timeout_s, stall_s=settings.llm_stall_s
        )
        self.cache = cache if cache is not None else (
            ResponseCache(settings.llm_cache_path or DEFAULT_PATH) if settings.llm_cache else None
        )
        self.limiter = limiter or RequestLimiter.from_settings(settings)
        self.retry = retry or RetryPolicy(max_attempts=settings.llm_max_attempts)
        self._rng = rng or random.Random()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # --- the seed's signatures -----------------------------------------------------------------

    async def generate(
        self,
        system_prompt: str,
        user_prompt: str | None = None,
        *,
        temperature: float | None = None,
        seed: int | None = None,
        no_cache: bool = False,
    ) -> str:
        """The model's answer as text (``complete`` without the provenance)."""
        result = await self.complete(system_prompt, user_prompt, temperature=temperature, seed=seed, no_cache=no_cache)
        return result.value

    async def structured(
        self,
        model: type[M],
        system_prompt: str,
        user_prompt: str | None = None,
        *,
        on_partial: OnPartial | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        no_cache: bool = False,
    ) -> M:
        """The model's answer as a validated ``model`` (``structured_result`` without the provenance)."""
        result = await self.structured_result(
            model,
            system_prompt,
            user_prompt,
            on_partial=on_partial,
            temperature=temperature,
            seed=seed,
            no_cache=no_cache,
        )
        return result.value

    # --- with provenance -----------------------------------------------------------------------

    async def complete(
        self,
        system_prompt: str,
        user_prompt: str | None = None,
        *,
        temperature: float | None = None,
        seed: int | None = None,
        no_cache: bool = False,
        on_text: OnText | None = None,
    ) -> LLMResult[str]:
        """The whole answer as text, with where it came from.

        ``no_cache`` skips the lookup but still stores the fresh answer (like ``--no-cache`` in
        build tools), so the next cached run repeats the latest answer.

        Raises:
            LLMError: a subclass saying what went wrong, after all attempts.
        """
        started = trio.current_time()
        body = self._body(messages_for(system_prompt, user_prompt), None, temperature, seed)
        key = self._key(body)
        if key and not no_cache and (cached := await self.cache.get(key)) is not None:
            if on_text:
                on_text(cached)
            return LLMResult(cached, cached, "cache", 0, _ms_since(started))
        text, attempts = await self._request(body, on_text)
        if key:
            await self.cache.put(key, text, model=self.model)
        return LLMResult(text, text, "llm", attempts, _ms_since(started))

    async def stream(
        self,
        system_prompt: str,
        user_prompt: str | None = None,
        *,
        temperature: float | None = None,
        seed: int | None = None,
        no_cache: bool = False,
    ) -> AsyncIterator[str]:
        """The answer's content deltas as they arrive (a cached answer comes as one delta).

        Attempts are retried only until the first delta has been yielded; after that a failure is
        raised, because the caller already holds part of an answer. Iterate it inside
        ``async with contextlib.aclosing(llm.stream(...)) as deltas:`` so that stopping early closes
        the connection at once.
        """
        body = self._body(messages_for(system_prompt, user_prompt), None, temperature, seed)
        key = self._key(body)
        if key and not no_cache and (cached := await self.cache.get(key)) is not None:
            yield cached
            return
        parts: list[str] = []
        attempt = 1
        while True:
            try:
                async with self.limiter.slot(), aclosing(self._transport.deltas(body)) as deltas:
                    async for delta in deltas:
                        parts.append(delta)
                        yield delta
                break
            except TRANSIENT as exc:
                if parts:
                    raise
                await pause_before_retry(self.retry, attempt, exc, self._rng)
            attempt += 1
        if key:
            await self.cache.put(key, "".join(parts), model=self.model)

    async def structured_result(
        self,
        model: type[M],
        system_prompt: str,
        user_prompt: str | None = None,
        *,
        on_partial: OnPartial | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        no_cache: bool = False,
    ) -> LLMResult[M]:
        """The answer validated as ``model``, with where it came from.

        Sends ``model``'s JSON schema as ``response_format``, streams, and calls ``on_partial`` with
        the parsed JSON so far whenever it grows (see ``extract.parse_partial`` for which parts are
        final). A retry or the repair round-trip starts a new answer, so the partial value can
        shrink: treat each call as the whole answer so far, not as an increment. Only answers that
        validated are cached.

        Raises:
            LLMResponseError: the answer and the repaired answer both failed extraction or validation.
            LLMError: another subclass, when the server could not give an answer at all.
        """
        started = trio.current_time()
        messages = messages_for(system_prompt, user_prompt)
        response_format = response_format_for(model)
        body = self._body(messages, response_format, temperature, seed)
        key = self._key(body)
        if key and not no_cache and (cached := await self.cache.get(key)) is not None:
            try:
                value = model.model_validate_json(cached)
            except ValidationError:
                log.info("cached %s no longer validates (the schema changed?); asking again", model.__name__)
            else:
                if on_partial:
                    on_partial(parse_partial(cached))
                return LLMResult(value, cached, "cache", 0, _ms_since(started))
        feed = PartialFeed(on_partial) if on_partial else None
        text, attempts = await self._request(body, feed)
        repaired = False
        try:
            json_text, value = validated(model, text)
        except LLMResponseError as first:
            log.warning("%s answer unusable (%s); asking the model to repair it", model.__name__, first)
            repair = [
                *messages,
                {"role": "assistant", "content": text},
                {"role": "user", "content": repair_prompt(first)},
            ]
            try:
                text, more = await self._request(self._body(repair, response_format, temperature, seed), feed)
            except LLMError as error:
                error.attempts += attempts
                raise
            attempts += more
            try:
                json_text, value = validated(model, text)
            except LLMResponseError as second:
                error = LLMResponseError(f"{model.__name__}: the repaired answer is unusable too: {second}")
                error.attempts = attempts
                raise error from second
            repaired = True
        if key:
            await self.cache.put(key, json_text, model=self.model)
        return LLMResult(value, json_text, "llm", attempts, _ms_since(started), repaired)

    # --- requests ------------------------------------------------------------------------------

    def _body(
        self,
        messages: list[Message],
        response_format: dict[str, Any] | None,
        temperature: float | None,
        seed: int | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
        if response_format is not None:
            body["response_format"] = response_format
        if temperature is not None:
            body["temperature"] = temperature
        if seed is not None:
            body["seed"] = seed
        return body

    def _key(self, body: dict[str, Any]) -> str | None:
        if self.cache is None:
            return None
        return cache_key(
            base_url=self.base_url,
            model=body["model"],
            messages=body["messages"],
            response_format=body.get("response_format"),
            temperature=body.get("temperature"),
            seed=body.get("seed"),
        )

    async def _request(self, body: dict[str, Any], on_text: OnText | None) -> tuple[str, int]:
        """The answer's text and the number of attempts it took."""
        attempts = 0

        async def attempt(n: int) -> str:
            nonlocal attempts
            attempts = n
            text = ""
            async with self.limiter.slot(), aclosing(self._transport.deltas(body)) as deltas:
                async for delta in deltas:
                    text += delta
                    if on_text:
                        on_text(text)
            return text

        try:
            text = await retrying(attempt, self.retry, self._rng)
        except LLMError as error:
            error.attempts = max(error.attempts, attempts)
            raise
        return text, attempts


def _ms_since(started: float) -> float:
    return round((trio.current_time() - started) * 1000.0, 3)
