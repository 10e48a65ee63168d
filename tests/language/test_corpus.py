"""Every request and prompt of the corpus is read as written (issue 11: "every one passes")."""

from __future__ import annotations

import pytest

from .corpus import cases, check_prompt, check_request

REQUESTS = cases("requests")
PROMPTS = cases("prompts")


def test_the_corpus_is_big_enough():
    assert len(REQUESTS) >= 400 and len(PROMPTS) >= 150
    assert len({c["say"] + c.get("song", "") for c in REQUESTS}) == len(REQUESTS), "a request is listed twice"


@pytest.mark.parametrize("case", REQUESTS, ids=[c["say"] for c in REQUESTS])
def test_request(case):
    assert check_request(case) is None, check_request(case)


@pytest.mark.parametrize("case", PROMPTS, ids=[c["say"] for c in PROMPTS])
def test_prompt(case):
    assert check_prompt(case) is None, check_prompt(case)
