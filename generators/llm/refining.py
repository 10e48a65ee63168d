"""Refinement requests through the model: what the rule-based parser does not recognise ("give the
hats more bounce") becomes the same ``Change`` values, checked against the song — an answer that
names a part, section or chord the song does not have is not applied but asked back about, in a
question of backbeat's own words (never the model's raw values, never an internal error string).
"""

from __future__ import annotations

import logging

from backbeat.generators.intent import explicit_key
from backbeat.generators.model import PARTS, SongState
from backbeat.generators.requests import Change, Question, parse
from backbeat.generators.settings import Settings
from backbeat.generators.tables import tables

from .client import LLMClient
from .errors import LLMError, quoted
from .prompts import SYSTEM, refine_prompt
from .repair import plain
from .schemas import ChangeAnswer, RefineAnswer

PARTS_ASKED = "drums, bass, chords or lead"
EXAMPLE = ' (e.g. "bass simpler", "3rd chord darker")'

log = logging.getLogger(__name__)


def _amount(kind: str, direction: float) -> float:
    """The size of a change, as config/refine.toml gives it for the phrase a producer would use."""
    sign = 1 if direction >= 0 else -1
    for change in tables().refine.changes.values():
        if change.kind == kind and (change.amount >= 0) == (sign > 0) and change.amount:
            return change.amount
    return float(sign)


def _section(name: str | None, song: SongState) -> int | None:
    if name is None:
        return None
    wanted = name.strip().lower()
    for i, s in enumerate(song.arrangement.sections):
        if s.name.lower() == wanted or s.kind == wanted:
            return i
    named = f"no section {quoted(repr(name), 40)}" if plain(name, 40) else "no such section"
    sections = ", ".join(s.name for s in song.arrangement.sections)
    raise ValueError(f"this song has {named}: which of {sections}?")


def to_change(a: ChangeAnswer, song: SongState) -> Change:
    """A model's change as backbeat's own, or ValueError with the question to ask the producer
    (what the song does not have, or what the change still needs), in backbeat's own words."""
    chords = len(song.progression.chords)
    if a.part is not None and a.part not in PARTS:
        raise ValueError(f"which part: {PARTS_ASKED}?")
    if a.chord is not None and a.chord != -1 and not 1 <= a.chord <= chords:
        raise ValueError(f"which chord? the progression has {chords} chords (1 to {chords})")
    needs = {"density": "part", "mute": "part", "alternative": "part", "length": "section"}.get(a.kind)
    if needs == "part" and a.part is None:
        raise ValueError(f"which part should change: {PARTS_ASKED}?")
    if needs == "section" and a.section is None:
        raise ValueError('which section should be longer or shorter? (e.g. "chorus longer")')
    if a.kind == "tempo":
        if a.bpm is None or not 20 <= a.bpm <= 300:
            raise ValueError('what tempo? (e.g. "tempo 96")')
        return Change("tempo", bpm=a.bpm, phrase="model")
    if a.kind == "key":
        try:
            root, mode = explicit_key(f"in {a.key or ''}")
        except ValueError:
            root = mode = None
        if root is None and mode is None:
            raise ValueError('which key? (e.g. "key D minor")')
        return Change("key", key=(root, mode), phrase="model")
    if a.kind == "genre":
        genres = tables().intent.genres
        key = next((k for k, g in genres.items() if (a.genre or "").lower() in (k, g.name.lower(), *g.aliases)), None)
        if key is None:
            raise ValueError('toward which genre? (e.g. "more like house")')
        return Change("genre", genre=key, phrase="model")
    if a.kind == "mute":
        return Change("mute", 1.0 if a.direction >= 0 else 0.0, part=a.part, phrase="model")
    if a.kind == "halftime":
        return Change("halftime", 1.0 if a.direction >= 0 else 0.0, phrase="model")
    if a.kind == "mix":
        return Change("mix", mix=a.mix or ("warm" if a.direction < 0 else "bright"), phrase="model")
    if a.kind == "color":
        target = a.target or ("chord" if a.chord is not None else None)
        if target is None:
            raise ValueError("darker or brighter what: a chord, the key or the mix?")
        if target == "mix":
            return Change("mix", mix="warm" if a.direction < 0 else "bright", phrase="model")
        return Change("color", -1.0 if a.direction < 0 else 1.0, chord=a.chord, target=target, phrase="model")
    if a.kind == "tempo_rel":
        return Change("tempo_rel", _amount("tempo_rel", a.direction) if a.direction >= 0 else 0.92, phrase="model")
    return Change(a.kind, _amount(a.kind, a.direction), part=a.part, section=_section(a.section, song), phrase="model")


async def parse_with_model(llm: LLMClient, request: str, song: SongState) -> list[Change] | Question | None:
    """The model's reading of ``request``; None when the model cannot be reached or answers nothing
    usable (the caller keeps its own answer then)."""
    try:
        answer = await llm.structured(RefineAnswer, SYSTEM["refine"], refine_prompt(request, song))
    except LLMError as e:
        log.warning("refine: the model could not read the request (%s)", e)
        return None
    if answer.question and not answer.changes:
        # The model's own question reaches the producer only if it reads as one.
        asked = plain(answer.question)
        return Question(asked) if asked and asked.endswith("?") else None
    try:
        changes = [to_change(a, song) for a in answer.changes]
    except ValueError as e:
        return Question(f"{e}{EXAMPLE}" if "e.g." not in str(e) else str(e))
    return changes or None


async def understand(request: str, song: SongState, settings: Settings, *, offline: bool = False) -> list[Change] | Question:
    """The changes ``request`` asks for: the rule-based parser's, or — for a request it does not
    recognise at all, when a model is configured — the model's reading of it."""
    changes = parse(request, song)
    if not isinstance(changes, Question) or changes.understood or offline or not settings.llm_configured:
        return changes
    async with LLMClient(settings) as llm:
        read = await parse_with_model(llm, request, song)
    return read if read is not None else changes
