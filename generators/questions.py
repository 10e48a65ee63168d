"""config/questions.toml as validated values: the questions about a song that ``routing`` answers,
each with the patterns that recognise it (the grammar counts their words as vocabulary too)."""

from __future__ import annotations

import re
from functools import cache

from pydantic import field_validator

from .tables import Table, load


class Question(Table):
    name: str
    about: str
    patterns: list[str]

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"pattern {p!r}: {e}") from e
        return patterns


class QuestionTables(Table):
    questions: list[Question]


@cache
def question_table() -> QuestionTables:
    """config/questions.toml, read once (``routing.questions`` also checks every question has an answer)."""
    return load(QuestionTables, "questions")
