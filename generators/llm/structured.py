"""Structured output without I/O: the ``response_format`` for a pydantic model, validation of an
answer against it, the repair prompt when validation fails, and partial-JSON callbacks while streaming.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from backbeat.generators.llm.errors import LLMResponseError
from backbeat.generators.llm.extract import extract_json, parse_partial
from backbeat.generators.llm.negotiation import response_format

M = TypeVar("M", bound=BaseModel)
OnPartial = Callable[[Any], None]
"""Called with the parsed JSON-so-far (dict or list) each time it changes."""

MAX_LISTED_ERRORS = 20
"""Validation errors quoted back to the model; past this many the answer needs rewriting anyway."""


def response_format_for(model: type[BaseModel]) -> dict[str, Any]:
    """The ``response_format`` asking for JSON that matches ``model``'s schema, in the strongest
    form (``json_schema``; ``negotiation`` has the others)."""
    return response_format("json_schema", model)  # type: ignore[return-value]


def validated(model: type[M], text: str) -> tuple[str, M]:
    """The JSON found in ``text``, and ``model`` validated from it.

    Raises:
        LLMResponseError: no JSON in ``text``, or JSON that ``model`` rejects (the message lists why,
            path by path, ready to quote in a repair prompt).
    """
    json_text = extract_json(text)
    try:
        return json_text, model.model_validate_json(json_text)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:MAX_LISTED_ERRORS]
        ]
        raise LLMResponseError("the JSON does not match the schema:\n- " + "\n- ".join(problems)) from exc


def repair_prompt(problem: LLMResponseError) -> str:
    """The user message that asks the model to correct its previous answer."""
    return (
        f"Your answer could not be used: {problem}\n"
        "Reply with the corrected JSON only: one JSON value that matches the schema, "
        "with no prose and no code fences."
    )


_CLOSERS = frozenset(",]}")


class PartialFeed:
    """Turns the growing text of an attempt into ``on_partial`` calls, one per change of value.

    An element of the answer can only have been completed by a ``,``, ``]`` or ``}``, so the text is
    parsed again only when one has arrived: a few hundred parses for a long answer, not one per token.
    """

    def __init__(self, on_partial: OnPartial) -> None:
        self._on_partial = on_partial
        self._last: Any = None
        self._parsed_upto = 0

    def __call__(self, text: str) -> None:
        if len(text) < self._parsed_upto:
            self._parsed_upto = 0  # a retry or the repair round started a new answer
        if _CLOSERS.isdisjoint(text[self._parsed_upto :]):
            return
        self._parsed_upto = len(text)
        value = parse_partial(text)
        if value is not None and value != self._last:
            self._last = value
            self._on_partial(value)
