"""Server-sent events and chat-completion chunks, without I/O: bytes in, content deltas out.

``SSEDecoder`` turns arbitrary slices of a ``text/event-stream`` body into the ``data`` payloads of
complete events (the WHATWG event-stream rules: CR, LF or CRLF line ends, ``:`` comments, multi-line
``data``). ``parse_event`` reads one payload of an OpenAI-style stream; ``parse_completion`` reads the
single JSON document a server sends when it ignores ``"stream": true``.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

from backbeat.generators.llm.errors import LLMResponseError, LLMUnavailableError, quoted

DONE = "[DONE]"
"""The payload that ends an OpenAI-style stream."""


class SSEDecoder:
    """Incremental event-stream decoder: ``feed`` slices as they arrive, ``close`` at end of body."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        """The payloads of the events that ``chunk`` completes, in order."""
        text = self._pending + self._utf8.decode(chunk)
        # A CR at the very end may be the first half of a CRLF split across two slices.
        if text.endswith("\r"):
            text, self._pending = text[:-1], "\r"
        else:
            self._pending = ""
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._pending = lines.pop() + self._pending
        return [p for line in lines if (p := self._line(line)) is not None]

    def close(self) -> list[str]:
        """Payloads still buffered when the body ends.

        The standard drops an event without its closing blank line; we keep it, because some servers
        end with ``data: [DONE]\\n`` and nothing after.
        """
        out = []
        tail = (self._pending + self._utf8.decode(b"", final=True)).rstrip("\r")
        self._pending = ""
        if tail and (p := self._line(tail)) is not None:
            out.append(p)
        if (p := self._line("")) is not None:
            out.append(p)
        return out

    def _line(self, line: str) -> str | None:
        if not line:
            if not self._data:
                return None
            payload, self._data = "\n".join(self._data), []
            return payload
        if line.startswith(":"):
            return None  # a comment: servers send them as keep-alives
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None


@dataclass(frozen=True, slots=True)
class Event:
    """What one stream payload means for the answer."""

    content: str = ""
    """Text the model added (empty for role-only, usage-only and reasoning chunks)."""
    thinking: bool = False
    """The chunk carries reasoning text (``reasoning_content``): the model is working, though the
    answer did not grow."""
    finish_reason: str | None = None
    """Set on the chunk that ends the choice: "stop", "length", ..."""
    done: bool = False
    """The payload was ``[DONE]``."""


def parse_event(payload: str) -> Event:
    """Interpret one ``data`` payload of a chat-completions stream.

    Raises:
        LLMUnavailableError: the payload is not JSON, or the server reported an error mid-stream
            (both are worth another attempt: the stream, not the request, went wrong).
    """
    if payload.strip() == DONE:
        return Event(done=True)
    try:
        chunk = json.loads(payload)
    except ValueError as exc:
        raise LLMUnavailableError(f"malformed stream chunk: {quoted(repr(payload), 120)}") from exc
    if not isinstance(chunk, dict):
        raise LLMUnavailableError(f"malformed stream chunk: {quoted(repr(payload), 120)}")
    if "error" in chunk:
        raise LLMUnavailableError(f"server error mid-stream: {error_message(chunk)}")
    choice = _first_choice(chunk)
    if choice is None:
        return Event()
    delta = choice.get("delta") or {}
    if not isinstance(delta, dict):
        delta = {}
    content = delta.get("content")
    thinking = any(isinstance(delta.get(k), str) and delta[k] for k in ("reasoning_content", "reasoning"))
    finish = choice.get("finish_reason")
    return Event(
        content=content if isinstance(content, str) else "",
        thinking=thinking,
        finish_reason=finish if isinstance(finish, str) else None,
    )


def parse_completion(body: bytes) -> str:
    """The answer text of a non-streamed ``chat.completion`` document.

    Raises:
        LLMResponseError: the document has no ``choices[0].message.content``.
    """
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise LLMResponseError(f"the server's answer is not JSON: {quoted(repr(body[:200]), 120)}") from exc
    choice = _first_choice(doc) if isinstance(doc, dict) else None
    message = choice.get("message") if choice else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise LLMResponseError(f"the server's answer has no message content: {quoted(repr(body[:200]), 120)}")
    return content


def completion_finish(body: bytes) -> str | None:
    """The ``finish_reason`` of a non-streamed ``chat.completion`` document, if it has one."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    choice = _first_choice(doc) if isinstance(doc, dict) else None
    reason = choice.get("finish_reason") if choice else None
    return reason if isinstance(reason, str) else None


def error_message(doc: Any) -> str:
    """The human part of an error document (OpenAI's ``error.message``, FastAPI's ``detail``), or
    the document itself, on one line of at most ``QUOTE_LIMIT`` characters."""
    if isinstance(doc, dict):
        err = doc.get("error", doc.get("detail"))
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return quoted(err["message"])
        if isinstance(err, str):
            return quoted(err)
        if isinstance(err, list):  # FastAPI/pydantic validation errors: their messages
            return quoted("; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in err))
    return quoted(doc)


def _first_choice(doc: dict[str, Any]) -> dict[str, Any] | None:
    choices = doc.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None
