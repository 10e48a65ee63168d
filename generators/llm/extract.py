"""Finding the JSON in what a model wrote: the whole answer, and the unfinished answer as it streams.

Models wrap JSON in Markdown fences, put prose before and after it, or think aloud in ``<think>``
blocks first, whatever ``response_format`` asked for. Parsing is always done by a real JSON parser
(the standard library's for the final answer, pydantic_core's partial mode while streaming); this
module only decides where the JSON starts and ends. Nothing is "fixed": trailing commas, comments or
single quotes make the answer invalid, and the client's repair round-trip deals with them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic_core import from_json

from backbeat.generators.llm.errors import LLMResponseError, quoted

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\r?\n(.*?)```", re.DOTALL)
_FENCE_OPEN = re.compile(r"```[ \t]*[\w+-]*[ \t]*\r?\n")
_DECODER = json.JSONDecoder()


def extract_json(text: str) -> str:
    """The JSON text inside ``text``: an object if there is one, else an array.

    In order: the body of the first fenced block that is a valid JSON object (else array); the whole
    answer; the longest object (then array) that parses, scanning from every ``{`` and ``[`` — the
    longest is the outermost, so a bracketed aside in the prose ("see [1]") never wins over it.

    Raises:
        LLMResponseError: nothing in ``text`` parses as a JSON object or array.
    """
    body = _without_thinking(text)
    fenced = [c for m in _FENCE.finditer(body) if _is_container(c := m.group(1).strip())]
    if fenced:
        return next((c for c in fenced if c[0] == "{"), fenced[0])
    if _is_container(stripped := body.strip()):
        return stripped
    best: dict[type, tuple[int, int]] = {}
    i = 0
    while (start := _next_open(body, i)) >= 0:
        try:
            value, end = _DECODER.raw_decode(body, start)
        except ValueError:
            i = start + 1
            continue
        kind = type(value)  # dict or list: the scan starts only at "{" and "["
        if kind not in best or end - start > best[kind][1] - best[kind][0]:
            best[kind] = (start, end)
        i = end  # everything inside this value is shorter: skip it
    for kind in (dict, list):
        if kind in best:
            start, end = best[kind]
            return body[start:end]
    raise LLMResponseError(f"the answer contains no JSON object: {quoted(repr(quoted(text, 160)), 170)}")


def parse_partial(text: str) -> Any | None:
    """The value of the JSON that ``text`` has begun, as far as it has come; None before it starts.

    The last element of every array and the last field of every object may be unfinished (a number
    cut short, a nested object with fields still to come); everything before them is final. Strings
    still being written are left out rather than shown cut short.
    """
    if "<think>" in text and "</think>" not in text:
        return None  # still thinking; braces in there are not the answer
    body = _without_thinking(text)
    if fence := _FENCE_OPEN.search(body):
        body = body[fence.end() :]
        if (close := body.find("```")) >= 0:
            body = body[:close]
    else:
        start = _next_open(body, 0)
        if start < 0:
            return None
        body = body[start:]
    if not body.strip():
        return None
    try:
        return from_json(body, allow_partial=True)
    except ValueError:
        pass
    # A finished value followed by prose ("}  Hope this helps!") is not a partial document.
    try:
        return _DECODER.raw_decode(body.lstrip())[0]
    except ValueError:
        return None


def _without_thinking(text: str) -> str:
    return _THINK.sub("", text)


def _is_container(candidate: str) -> bool:
    if not candidate or candidate[0] not in "{[":
        return False
    try:
        return isinstance(json.loads(candidate), (dict, list))
    except ValueError:
        return False


def _next_open(text: str, start: int) -> int:
    brace, bracket = text.find("{", start), text.find("[", start)
    found = [i for i in (brace, bracket) if i >= 0]
    return min(found) if found else -1

