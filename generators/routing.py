"""Request routing (seed task 6.8): what does a producer's message ask for?

- a simple question about the song now playing ("what key is this in?", "what chord is bar 5?") is
  an ``Answer``, computed from the ``SongState`` at once: no pipeline, no request to a model;
- a composition request is ``Compose``: run the pipeline;
- a command on the playing song ("go to the chorus", "jump to the drop", "stop", "undo") is a
  ``Command``;
- a change to the current song ("bass too busy", "stop the bass", "slow it down a bit", "change the
  tempo to 96") is ``Refine``, for ``generators.refine``.

``route`` decides by rules alone: a question the patterns of config/questions.toml recognise is
answered, a command is a command, a request the grammar (``generators.requests``) reads as changes
refines, and only a request that describes a song (a genre, an artist, "a new track") composes.
Anything else is a refinement the refiner asks back about, so a stray sentence never replaces the
playing song. ``route_with`` asks the language model to classify what the rules leave open (when
one is configured); a question it names is still answered from the song. Each question kind is one
row of the table and one function of ``ANSWERS``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from backbeat.engine.time import PPQ

from .errors import ConfigError
from .grid import spans, ticks_per_bar
from .model import PARTS, Part, SongState
from .questions import Question, question_table
from .reading import Command
from .grammar import prepare
from .requests import read
from .transport import command

if TYPE_CHECKING:
    from .llm.client import LLMClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    """A question answered from the song."""

    question: str
    """The question's name in config/questions.toml: key, tempo, chord_at_bar, ..."""
    text: str
    """One line for the producer."""
    data: dict[str, Any] = field(default_factory=dict)
    """The same answer as values (for a UI)."""


@dataclass(frozen=True, slots=True)
class Compose:
    """Compose a new song from this prompt."""

    prompt: str


@dataclass(frozen=True, slots=True)
class Refine:
    """Change the current song as asked (handled by ``generators.refine``)."""

    request: str


Route = Answer | Compose | Refine | Command


# --- answers ---------------------------------------------------------------------------------------

PART_WORDS: dict[str, Part] = {"drum": "drums", "bassline": "bass", "chord": "chords", "keys": "chords",
                               "pad": "chords", "pads": "chords", "melody": "lead"}


def _key(song: SongState, _: dict[str, str]) -> Answer:
    key = song.progression.key
    return Answer("key", f"The song is in {key.label()}.", {"root": key.root, "mode": key.mode})


def _tempo(song: SongState, _: dict[str, str]) -> Answer:
    half = " with a half-time feel" if song.intent.tempo.half_time else ""
    return Answer("tempo", f"{song.bpm:g} BPM{half}.", {"bpm": song.bpm, "half_time": song.intent.tempo.half_time})


def _chord_at_bar(song: SongState, groups: dict[str, str]) -> Answer:
    a = song.arrangement
    bar = int(groups.get("bar") or 1)
    if not 1 <= bar <= a.total_bars:
        return Answer("chord_at_bar", f"The song has {a.total_bars} bars (1-{a.total_bars}).", {"bar": bar, "chords": []})
    index = a.section_at(bar - 1)
    section, start = a.sections[index], a.start_bars()[index]
    bar_ticks = ticks_per_bar(a)
    lo, hi = (bar - 1 - start) * bar_ticks, (bar - start) * bar_ticks
    found = [s.chord.symbol for s in spans(section, song.progression, bar_ticks, PPQ * 4 // a.meter.denominator) if s.start < hi and s.end > lo]
    return Answer("chord_at_bar", f"Bar {bar} ({section.name}): {' → '.join(found)}.", {"bar": bar, "section": section.name, "chords": found})


def _progression(song: SongState, _: dict[str, str]) -> Answer:
    symbols = song.progression.symbols()
    return Answer("progression", f"{' → '.join(symbols)} in {song.progression.key.label()}.", {"chords": symbols})


def _instrument(song: SongState, groups: dict[str, str]) -> Answer:
    word = (groups.get("part") or "").lower()
    part = word if word in PARTS else PART_WORDS.get(word.rstrip("s"), PART_WORDS.get(word))
    track = next((t for t in song.tracks if t.part == part), None)
    if track is None:
        return Answer("instrument", f"The song has no {word or 'such'} part.", {"part": part})
    if track.preset is None:
        return Answer("instrument", f"{track.name}: no instrument chosen yet (MIDI channel {track.channel}).", {"part": part})
    preset = f", preset {track.preset.preset}" if track.preset.preset else ""
    return Answer("instrument", f"{track.name}: {track.preset.instrument}{preset} ({track.preset.category}) on MIDI channel {track.channel}.",
                  {"part": part, "instrument": track.preset.instrument, "channel": track.channel})


def _bars(song: SongState, _: dict[str, str]) -> Answer:
    a = song.arrangement
    seconds = a.total_bars * a.meter.numerator * (4 / a.meter.denominator) * 60 / song.bpm
    return Answer("bars", f"{a.total_bars} bars in {len(a.sections)} sections, about {seconds / 60:.0f}:{seconds % 60:02.0f} at {song.bpm:g} BPM.",
                  {"bars": a.total_bars, "sections": len(a.sections)})


def _sections(song: SongState, _: dict[str, str]) -> Answer:
    flow = [f"{s.name} ({s.bars})" for s in song.arrangement.sections]
    return Answer("sections", " → ".join(flow) + ".", {"sections": [s.name for s in song.arrangement.sections]})


def _genre(song: SongState, _: dict[str, str]) -> Answer:
    g = song.intent.genre
    blend = f"{g.primary} with {g.secondary}" if g.secondary else g.primary
    names = ", ".join(i.name for i in song.intent.influences)
    return Answer("genre", f"{blend} (influences: {names}).", {"primary": g.primary, "secondary": g.secondary})


ANSWERS: dict[str, Callable[[SongState, dict[str, str]], Answer]] = {
    "key": _key,
    "tempo": _tempo,
    "chord_at_bar": _chord_at_bar,
    "progression": _progression,
    "instrument": _instrument,
    "bars": _bars,
    "sections": _sections,
    "genre": _genre,
}


@cache
def questions() -> tuple[Question, ...]:
    """config/questions.toml, checked: every question has an answer function.

    Raises:
        ConfigError: the table is invalid or names a question backbeat cannot answer.
    """
    table = question_table()
    unknown = [q.name for q in table.questions if q.name not in ANSWERS]
    if unknown:
        raise ConfigError(f"config/questions.toml: no answer for question(s) {', '.join(unknown)}; known: {', '.join(ANSWERS)}")
    return tuple(table.questions)


def recognised(text: str) -> tuple[str, dict[str, str]] | None:
    """The first question whose pattern matches ``text``, with the pattern's named groups."""
    for q in questions():
        for pattern in q.patterns:
            if m := re.search(pattern, text, re.IGNORECASE):
                return q.name, {k: v for k, v in m.groupdict().items() if v is not None}
    return None


def answer(name: str, song: SongState, groups: dict[str, str] | None = None) -> Answer:
    return ANSWERS[name](song, groups or {})


def route(text: str, song: SongState | None) -> Route:
    """Without a model: a recognised question about a loaded song is answered, a command on it is
    a ``Command``, a request that describes a song composes, and anything else refines it (the
    refiner reads it, or asks back)."""
    if song is None or not song.tracks:
        return Compose(text.strip())
    clean, fixes = prepare(text)
    for candidate in (text, clean):
        if (found := recognised(candidate)) is not None:
            return answer(found[0], song, found[1])
    if (cmd := command(clean, song, fixes)) is not None:
        return cmd
    if read(text, song).describes:
        return Compose(text.strip())
    return Refine(text.strip())


async def route_with(llm: LLMClient | None, text: str, song: SongState | None) -> Route:
    """``route``, with the language model classifying what the patterns do not recognise.

    The model is asked about a request that composes or that the grammar did not understand; one
    that fails or names nothing usable leaves the decision to the rules.
    """
    decided = route(text, song)
    if llm is None or song is None:
        return decided
    if isinstance(decided, Refine) and read(text, song).understood:
        return decided
    if not isinstance(decided, (Compose, Refine)):
        return decided
    from .llm import LLMError  # the model's layer is only loaded when a model is configured
    from .llm.prompts import SYSTEM, route_prompt
    from .llm.schemas import route_answer

    kinds = {q.name: q.about for q in questions()}
    try:
        result = await llm.structured(route_answer(tuple(kinds)), SYSTEM["route"], route_prompt(text, kinds, True))
    except LLMError as e:
        log.warning("routing: the model could not classify the request (%s); composing", e)
        return decided
    if result.kind == "question" and result.question in ANSWERS:
        groups = {k: str(v) for k, v in (("bar", result.bar), ("part", result.part)) if v is not None}
        return answer(result.question, song, groups)
    if result.kind == "refine":
        return Refine(text.strip())
    if result.kind == "compose":
        return Compose(text.strip())
    return decided
