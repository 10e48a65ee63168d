"""``LLMClient``: chat completions from any OpenAI-compatible server, streamed, limited, retried,
negotiated, bounded and cached.

Layers, innermost first: ``transport.Transport`` makes one attempt (one HTTP request read under
deadlines and a size limit, httpx's errors mapped to ours); ``_request`` runs attempts inside the
limits, the retry loop and the caller's deadline; ``_negotiated`` asks in the structured-output form
the server takes, stepping down on a refusal (``negotiation``); ``complete``, ``stream`` and
``structured_result`` add the cache and, for structured output, extraction, validation and one
repair round-trip. ``generate`` and ``structured`` are the seed's signatures over them, returning
bare values.

Every request streams (``"stream": true``): partial JSON needs text to parse, and deadlines need to
tell content from keep-alives. A server that ignores the flag and sends one JSON document is
understood too. Every request carries ``max_tokens`` (config/llm.toml), so no answer runs away.
What the client learns about the server (its row of config/servers.toml, the form it takes, whether
it decodes one request at a time) is said once, in one line, through ``notify``.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar

import httpx
import trio
from pydantic import BaseModel, ValidationError

from backbeat.generators.llm.cache import DEFAULT_PATH, ProfileStore, ResponseCache, cache_key
from backbeat.generators.llm.config import known_servers, max_tokens_for, server_row
from backbeat.generators.llm.errors import (
    CutOffError,
    FormatRefusedError,
    LLMError,
    LLMResponseError,
    OutOfTimeError,
    TruncatedError,
    retryable,
)
from backbeat.generators.llm.extract import parse_partial
from backbeat.generators.llm.limits import RequestLimiter
from backbeat.generators.llm.negotiation import (
    FORM_LABELS,
    ServerProfile,
    detect,
    response_format,
    schema_in_prompt,
    step_down,
    with_schema,
)
from backbeat.generators.llm.retry import RetryPolicy, pause_before_retry, retrying
from backbeat.generators.llm.structured import OnPartial, PartialFeed, repair_prompt, response_format_for, validated
from backbeat.generators.llm.transport import Timing, Transport
from backbeat.generators.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""Where requests go when only ``llm_api_key`` is set."""
DETECT_S = 5.0
"""Seconds the one ``GET /v1/models`` that identifies the server may take."""
MAX_DETECT_BYTES = 64 * 1024
REPAIR_MAX_CHARS = 6000
"""An unusable answer longer than this is not pasted back into a repair prompt (reading it again
would cost more than asking anew); the caller falls back instead."""

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Message = dict[str, str]
OnText = Callable[[str], None]
"""Called with the whole text of the current attempt each time it grows."""
Notify = Callable[[str], None]
"""Where the client's one-line notices go (a refused form, a server that decodes one at a time)."""


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
    form: str | None = None
    """The structured-output form the answer was asked in (None: text, or from the cache)."""
    queued_ms: float = 0.0
    """Part of ``duration_ms`` spent waiting for an in-flight slot, not at the server."""


def messages_for(system_prompt: str, user_prompt: str | None = None) -> list[Message]:
    """The chat messages of the seed's ``generate(systemPrompt, userPrompt?)``."""
    messages = [{"role": "system", "content": system_prompt}]
    if user_prompt is not None:
        messages.append({"role": "user", "content": user_prompt})
    return messages


class LLMClient:
    """One server, one model, one set of limits; share one client between all tasks of a run.

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
        profiles: ProfileStore | None = None,
        notify: Notify | None = None,
    ) -> None:
        self.model = settings.llm_model
        self.base_url = (settings.llm_base_url or DEFAULT_BASE_URL).rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.server_setting = settings.llm_server
        if self.server_setting != "auto":
            server_row(self.server_setting)  # an unknown name is a configuration error, said now
        headers = {"User-Agent": "backbeat"}
        if settings.llm_api_key is not None:
            headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
        self._headers = headers
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(settings.llm_timeout_s))
        self.timing = Timing(
            first_content_s=settings.llm_timeout_s, request_s=settings.llm_request_s, stall_s=settings.llm_stall_s
        )
        self._transport = Transport(self._http, self.url, headers, self.timing)
        path = settings.llm_cache_path or DEFAULT_PATH
        self.cache = cache if cache is not None else (ResponseCache(path) if settings.llm_cache else None)
        # What a server takes lives beside the answers; with the cache off it is learnt per run.
        self.profiles = profiles if profiles is not None else (ProfileStore(path) if settings.llm_cache else None)
        self.limiter = limiter or RequestLimiter.from_settings(settings)
        self.retry = retry or RetryPolicy(max_attempts=settings.llm_max_attempts)
        self.notify: Notify = notify or log.warning
        self._rng = rng or random.Random()
        self._said: set[str] = set()
        self._profile: ServerProfile | None = None
        self._stored: ServerProfile | None = None
        self._profile_lock = trio.Lock()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    def say(self, cause: str, message: str) -> None:
        """``message`` through ``notify``, once per ``cause`` for the life of this client."""
        if cause not in self._said:
            self._said.add(cause)
            self.notify(message)

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
        max_tokens: int | None = None,
        deadline: float | None = None,
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
            max_tokens=max_tokens,
            deadline=deadline,
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
        max_tokens: int | None = None,
        deadline: float | None = None,
    ) -> LLMResult[str]:
        """The whole answer as text, with where it came from (an answer that reaches ``max_tokens``
        is returned as far as it came, and not cached).

        ``no_cache`` skips the lookup but still stores the fresh answer (like ``--no-cache`` in
        build tools), so the next cached run repeats the latest answer. ``deadline`` (trio time)
        bounds everything, queueing and retries included.

        Raises:
            LLMError: a subclass saying what went wrong, after all attempts.
        """
        started = trio.current_time()
        body = self._body(messages_for(system_prompt, user_prompt), None, temperature, seed, max_tokens or max_tokens_for(None))
        key = self._key(body)
        if key and not no_cache and (cached := await self.cache.get(key)) is not None:
            if on_text:
                on_text(cached)
            return LLMResult(cached, cached, "cache", 0, _ms_since(started))
        await self.profile(_deadline(deadline))
        try:
            text, attempts, queued = await self._request(body, on_text, _deadline(deadline))
        except TruncatedError as cut:
            # A text answer at its token limit is still the answer asked for; it is not cached.
            return LLMResult(cut.text, cut.text, "llm", max(1, cut.attempts), _ms_since(started))
        if key:
            await self.cache.put(key, text, model=self.model)
        return LLMResult(text, text, "llm", attempts, _ms_since(started), queued_ms=queued)

    async def stream(
        self,
        system_prompt: str,
        user_prompt: str | None = None,
        *,
        temperature: float | None = None,
        seed: int | None = None,
        no_cache: bool = False,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """The answer's content deltas as they arrive (a cached answer comes as one delta); an answer
        that reaches ``max_tokens`` simply ends there.

        Attempts are retried only until the first delta has been yielded; after that a failure is
        raised, because the caller already holds part of an answer. Iterate it inside
        ``async with contextlib.aclosing(llm.stream(...)) as deltas:`` so that stopping early closes
        the connection at once.
        """
        body = self._body(messages_for(system_prompt, user_prompt), None, temperature, seed, max_tokens or max_tokens_for(None))
        key = self._key(body)
        if key and not no_cache and (cached := await self.cache.get(key)) is not None:
            yield cached
            return
        await self.profile()
        parts: list[str] = []
        attempt = 1
        while True:
            try:
                async with self.limiter.slot(), aclosing(self._transport.deltas(body)) as deltas:
                    async for delta in deltas:
                        parts.append(delta)
                        yield delta
                break
            except TruncatedError:
                return  # the answer ended at its token limit: all of it was yielded (and is not cached)
            except LLMError as exc:
                if parts or not retryable(exc):
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
        max_tokens: int | None = None,
        deadline: float | None = None,
    ) -> LLMResult[M]:
        """The answer validated as ``model``, with where it came from.

        Asks in the structured-output form the server takes (``negotiation``), streams, and calls
        ``on_partial`` with the parsed JSON so far whenever it grows (see ``extract.parse_partial``
        for which parts are final). A retry or the repair round-trip starts a new answer, so the
        partial value can shrink: treat each call as the whole answer so far, not as an increment.
        ``max_tokens`` defaults to the answer model's row of config/llm.toml; ``deadline`` (trio
        time) bounds everything. Only answers that validated are cached.

        Raises:
            TruncatedError: the answer reached ``max_tokens``; it is not repaired (``text`` holds it).
            LLMResponseError: the answer and the repaired answer both failed extraction or validation.
            LLMError: another subclass, when the server could not give an answer at all.
        """
        started = trio.current_time()
        end = _deadline(deadline)
        messages = messages_for(system_prompt, user_prompt)
        tokens = max_tokens or max_tokens_for(model.__name__)
        # Keyed by the schema, not by the form it was asked in: an answer is as good either way.
        key = self._key(self._body(messages, response_format_for(model), temperature, seed, None))
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
        text, attempts, form, queued = await self._negotiated(model, messages, temperature, seed, tokens, feed, end)
        repaired = False
        try:
            json_text, value = validated(model, text)
        except LLMResponseError as first:
            if len(text) > REPAIR_MAX_CHARS:
                error = LLMResponseError(f"{model.__name__}: the answer is unusable ({first}) and too long to send back")
                error.attempts = attempts
                raise error from first
            log.info("%s answer unusable (%s); asking the model to repair it", model.__name__, first)
            repair = [
                *messages,
                {"role": "assistant", "content": text},
                {"role": "user", "content": repair_prompt(first)},
            ]
            try:
                text, more, form, waited = await self._negotiated(model, repair, temperature, seed, tokens, feed, end)
            except LLMError as error:
                error.attempts += attempts
                raise
            attempts += more
            queued += waited
            try:
                json_text, value = validated(model, text)
            except LLMResponseError as second:
                error = LLMResponseError(f"{model.__name__}: the repaired answer is unusable too: {second}")
                error.attempts = attempts
                raise error from second
            repaired = True
        if key:
            await self.cache.put(key, json_text, model=self.model)
        return LLMResult(value, json_text, "llm", attempts, _ms_since(started), repaired, form, queued)

    # --- the server ----------------------------------------------------------------------------

    async def profile(self, deadline: float = math.inf) -> ServerProfile:
        """What this client knows about its server: remembered (cache database), set
        (``LLM_SERVER``), or detected once with ``GET /v1/models``."""
        async with self._profile_lock:
            if self._profile is None:
                found = await self._find_profile(deadline)
                self._profile = found
                self._stored = found if found.origin == "memory" else None
                if found.serial:
                    self._serialize(found.label)
            return self._profile

    async def _find_profile(self, deadline: float) -> ServerProfile:
        remembered = await self.profiles.get(self.base_url, self.model) if self.profiles else None
        if self.server_setting != "auto":
            if remembered is not None and remembered.server == self.server_setting:
                return replace(remembered, origin="configured")
            row = server_row(self.server_setting)
            return ServerProfile(self.server_setting, row.forms[0], row.parallel == 1, "configured")
        if remembered is not None:
            return remembered
        name = await self._detect(deadline)
        row = known_servers()[name]
        return ServerProfile(name, row.forms[0], row.parallel == 1, "detected")

    async def _detect(self, deadline: float) -> str:
        """The server's row, from one bounded ``GET /v1/models`` (whatever fails, ``generic``)."""
        doc: Any = None
        headers: dict[str, str] = {}
        with trio.move_on_at(min(deadline, trio.current_time() + DETECT_S)):
            try:
                async with self._http.stream("GET", f"{self.base_url}/models", headers=self._headers) as response:
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    raw = b""
                    async for chunk in response.aiter_bytes():
                        raw += chunk
                        if len(raw) > MAX_DETECT_BYTES:
                            break
                    if response.status_code < 400 and len(raw) <= MAX_DETECT_BYTES:
                        doc = json.loads(raw) if raw else None
            except (httpx.HTTPError, ValueError):
                pass
        return detect(self.base_url, doc, headers)

    def _serialize(self, who: str) -> None:
        """One request in flight from now on (remembered with the profile at its next store)."""
        if self._profile is not None:
            self._profile = replace(self._profile, serial=True)
        if self.limiter.serial:
            return
        self.limiter.serialize()
        self.say("serial", f"{who} decodes one request at a time: sending one request at a time")

    async def _remember(self, profile: ServerProfile) -> None:
        """Use ``profile`` from now on, and store it for the next run if it is news."""
        self._profile = profile
        stored = replace(profile, origin="memory")
        if self.profiles is not None and stored != self._stored:
            self._stored = stored
            await self.profiles.put(self.base_url, self.model, stored)

    async def _step_down(self, form: str, refusal: FormatRefusedError) -> None:
        """After ``form`` was refused: the next weaker form (unless another request already moved on)."""
        async with self._profile_lock:
            profile = self._profile
            if profile is None or profile.form != form:
                return
            weaker = step_down(profile.form)
            if weaker is None:
                raise refusal
            self.say(f"form:{form}", f"the server refused {FORM_LABELS[form]}; using {FORM_LABELS[weaker]}")
            await self._remember(replace(profile, form=weaker))

    # --- requests ------------------------------------------------------------------------------

    async def _negotiated(
        self,
        model: type[BaseModel],
        messages: list[Message],
        temperature: float | None,
        seed: int | None,
        max_tokens: int,
        feed: OnText | None,
        deadline: float,
    ) -> tuple[str, int, str, float]:
        """(text, requests sent, the form that worked, seconds queued): a refused form costs one
        request, not a retry."""
        refused = 0
        while True:
            profile = await self.profile(deadline)
            form = profile.form
            asked = with_schema(messages, model) if schema_in_prompt(form, known_servers()[profile.server]) else messages
            body = self._body(asked, response_format(form, model), temperature, seed, max_tokens)
            try:
                text, attempts, queued = await self._request(body, feed, deadline)
            except FormatRefusedError as refusal:
                refused += max(1, refusal.attempts)
                await self._step_down(form, refusal)
                continue
            except LLMError as error:
                error.attempts += refused
                raise
            async with self._profile_lock:
                await self._remember(replace(self._profile or profile, form=form))
            return text, refused + attempts, form, queued

    def _body(
        self,
        messages: list[Message],
        response_format: dict[str, Any] | None,
        temperature: float | None,
        seed: int | None,
        max_tokens: int | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
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

    async def _request(self, body: dict[str, Any], on_text: OnText | None, deadline: float = math.inf) -> tuple[str, int, float]:
        """(the answer's text, the attempts it took, seconds spent waiting for a slot)."""
        attempts = cutoffs = 0
        queued = 0.0

        async def attempt(n: int) -> str:
            nonlocal attempts, cutoffs, queued
            attempts = n
            text = ""
            async with self.limiter.slot() as waited:
                queued += waited
                try:
                    async with aclosing(self._transport.deltas(body, deadline)) as deltas:
                        async for delta in deltas:
                            text += delta
                            if on_text:
                                on_text(text)
                except CutOffError:
                    cutoffs += 1
                    if self.limiter.in_flight.borrowed_tokens > 1:  # cut short while another was answered
                        self._serialize(f"the server at {self.base_url}")
                    if cutoffs > 1:
                        raise LLMResponseError("the server cut the answer off before it began, twice") from None
                    raise
                except TruncatedError as cut:
                    cut.text = text
                    raise
            return text

        with trio.move_on_at(deadline) as scope:
            try:
                text = await retrying(attempt, self.retry, self._rng)
            except LLMError as error:
                error.attempts = max(error.attempts, attempts)
                raise
            return text, attempts, queued
        error = OutOfTimeError("the time budget ran out" + (" while waiting for a free slot" if attempts == 0 else ""))
        error.attempts = attempts
        raise error


def _deadline(deadline: float | None) -> float:
    return math.inf if deadline is None else deadline


def _ms_since(started: float) -> float:
    return round((trio.current_time() - started) * 1000.0, 3)
