"""The language corpus: requests and prompts as producers type them (requests.toml, prompts.toml),
each with what backbeat must make of it, and the check of one case.

A check returns None when backbeat reads the case as written, else one line saying what it read
instead, so a failing run lists every miss at once.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from backbeat.generators import pipeline, revisions
from backbeat.generators.errors import BadRequestError
from backbeat.generators.intent import decompose
from backbeat.generators.model import SongState
from backbeat.generators.requests import Reading, read
from backbeat.generators.routing import Answer, Command, Compose, Refine, route

HERE = Path(__file__).parent

SONGS = {
    "pop": ("pop song, uplifting, Eb major, 128 bpm, intro verse pre chorus verse chorus bridge chorus outro", 60),
    "edm": ("edm anthem, E minor, 128 bpm, intro build drop break build drop outro", 72),
}
"""The songs requests are read against (prompt, bars): their sections are spelled out so the
corpus does not depend on the genre's arrangement template."""


def cases(name: str) -> list[dict[str, Any]]:
    """The cases of ``name``.toml, in file order."""
    with (HERE / f"{name}.toml").open("rb") as f:
        return tomllib.load(f)["cases"]


@cache
def song(name: str = "pop") -> SongState:
    prompt, bars = SONGS[name]
    return pipeline.compose_sync(prompt, seed=5, bars=bars)


def _problem(text: str, s: SongState, reading: Reading) -> str | None:
    """The one line that says why the request cannot be applied, if it cannot."""
    if reading.problem:
        return reading.problem
    try:
        revisions.revise(s, text, reading)
    except BadRequestError as e:
        return str(e)
    return None


def check_request(case: dict[str, Any]) -> str | None:
    text, s = case["say"], song(case.get("song", "pop"))
    routed = route(text, s)
    reading = read(text, s)
    fixes = [str(c) for c in reading.corrections]
    missing = [f for f in case.get("fix", []) if f not in fixes]
    if missing:
        return f"corrections {fixes}, expected {missing}"
    if "answer" in case:
        if isinstance(routed, Answer) and routed.question == case["answer"]:
            return None
        return f"routed as {routed!r}"
    if case.get("new"):
        return None if isinstance(routed, Compose) else f"routed as {routed!r}"
    if "do" in case:
        if isinstance(routed, Command) and routed.label == case["do"] and routed.problem is None:
            return None
        return f"routed as {routed!r}"
    if "error" in case:
        if isinstance(routed, Command):
            line = routed.problem
        elif isinstance(routed, Refine):
            line = _problem(text, s, reading)
        else:
            return f"routed as {routed!r}"
        if line and case["error"].lower() in line.lower() and "\n" not in line:
            return None
        return f"problem {line!r}, reading {reading.labels()}"
    if not isinstance(routed, Refine):
        return f"routed as {routed!r}"
    if "ask" in case:
        if reading.question and case["ask"].lower() in reading.question.lower() and not reading.changes:
            return None
        return f"question {reading.question!r}, reading {reading.labels()}"
    if reading.question or reading.problem:
        return f"question {reading.question!r}, problem {reading.problem!r}"
    got = reading.labels()
    return None if got == case["read"] else f"read {got}"


def check_prompt(case: dict[str, Any]) -> str | None:
    intent = decompose(case["say"], seed=1)
    got: list[str] = []
    if "genre" in case and intent.genre.primary != case["genre"]:
        got.append(f"genre {intent.genre.primary}")
    if "via" in case and not any(case["via"] in a for a in intent.ambiguities):
        got.append(f"no {case['via']!r} in {intent.ambiguities}")
    if "bpm" in case and intent.tempo.bpm != case["bpm"]:
        got.append(f"bpm {intent.tempo.bpm:g}")
    if "key" in case:
        wanted = case["key"].split()
        key = intent.key
        if intent.key.confidence != "explicit":
            got.append(f"key {key.label()} (inferred)")
        elif len(wanted) == 2 and key.label() != case["key"]:
            got.append(f"key {key.label()}")
        elif len(wanted) == 1 and wanted[0] not in (key.root, key.mode):
            got.append(f"key {key.label()}")
    if "bars" in case and intent.duration.total_bars != case["bars"]:
        got.append(f"bars {intent.duration.total_bars}")
    if "artist" in case and case["artist"] not in [i.name for i in intent.influences]:
        got.append(f"influences {[i.name for i in intent.influences]}")
    if "half" in case and intent.tempo.half_time != case["half"]:
        got.append(f"half-time {intent.tempo.half_time}")
    return "; ".join(got) or None
