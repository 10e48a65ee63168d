"""The input line as tables: slash commands and plain text → protocol requests. Pure: no I/O.

``parse(line)`` gives an ``Action`` (a protocol command and its arguments, or a thing the TUI does
itself, like ``/help``) or raises ``InputError`` with one line for the log. Plain text is ``say``:
the daemon routes it (a question, a command, a change, or a description of a new song; anything it
does not understand is asked back about and changes nothing), so what a line does never depends on
what this TUI believes is loaded. Only ``/new PROMPT`` always composes.
Arguments are validated against the protocol's own models before they are sent, so a typo is
answered here instead of by a round trip.

Sections are numbered from 1 in the TUI (``/jump 2`` and the key ``2`` both mean the second
section, as the arrangement view labels them); the protocol's indexes start at 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from backbeat.daemon.protocol import ARGS, PROTOCOL

from .errors import InputError

PLAIN_TEXT = "say"
"""The command plain text becomes: the daemon routes it (docs/PROTOCOL.md, ``say``)."""

QUANTIZE = ("bar", "section")


@dataclass(frozen=True, slots=True)
class Action:
    """What one line (or key) asks for."""

    cmd: str
    """A protocol command, or a local one (``help``) when ``local`` is set."""
    args: dict[str, Any] = field(default_factory=dict)
    local: bool = False


def _none(name: str, words: list[str]) -> dict[str, Any]:
    if words:
        raise InputError(f"/{name} takes no arguments")
    return {}


def section_ref(word: str) -> str | int:
    """A section as the user names it: a one-based number, a name (``chorus 2``) or a kind (``chorus``)."""
    if word.isdigit():
        if int(word) < 1:
            raise InputError("sections are numbered from 1")
        return int(word) - 1
    return word


def _jump(name: str, words: list[str]) -> dict[str, Any]:
    quantize = "section"
    if len(words) > 1 and words[-1].lower() in QUANTIZE:
        quantize = words.pop().lower()
    if not words:
        raise InputError("usage: /jump SECTION [bar|section] (a name, a kind like chorus, or a number)")
    return {"section": section_ref(" ".join(words)), "quantize": quantize}


def _tempo(name: str, words: list[str]) -> dict[str, Any]:
    try:
        (word,) = words
        return {"bpm": float(word)}
    except ValueError:
        raise InputError("usage: /tempo BPM (a number from 20 to 300)") from None


def _part(key: str, **extra: Any) -> Callable[[str, list[str]], dict[str, Any]]:
    def parse(name: str, words: list[str]) -> dict[str, Any]:
        if len(words) != 1:
            raise InputError(f"usage: /{name} drums|bass|chords|lead")
        return {key: words[0].lower(), **extra}

    return parse


def _text(name: str, words: list[str]) -> dict[str, Any]:
    if not words:
        raise InputError(f"usage: /{name} WHAT TO CHANGE, e.g. /{name} bass too busy")
    return {"text": " ".join(words)}


def _alternatives(name: str, words: list[str]) -> dict[str, Any]:
    if not 1 <= len(words) <= 2 or (len(words) == 2 and not words[1].isdigit()):
        raise InputError(f"usage: /{name} PART [N]")
    return {"part": words[0].lower(), **({"n": int(words[1])} if len(words) == 2 else {})}


def _choose(name: str, words: list[str]) -> dict[str, Any]:
    if len(words) != 2:
        raise InputError(f"usage: /{name} PART LABEL, e.g. /{name} bass B")
    return {"part": words[0].lower(), "option": words[1].upper()}


def _prompt(name: str, words: list[str]) -> dict[str, Any]:
    if not words:
        raise InputError(f"usage: /{name} PROMPT, e.g. /{name} deep house in A minor")
    return {"prompt": " ".join(words), "play": True}


def _asked(name: str, words: list[str]) -> dict[str, Any]:
    return {**_prompt(name, words), "gates": True}


def _said(text: str) -> Callable[[str, list[str]], dict[str, Any]]:
    def parse(name: str, words: list[str]) -> dict[str, Any]:
        _none(name, words)
        return {"text": text}

    return parse


def _learn(name: str, words: list[str]) -> dict[str, Any]:
    if len(words) != 1:
        raise InputError("usage: /learn ACTION, as in a controller map: jump:1, jump:next, mute:bass, tempo:+2, panic, ...")
    return {"action": words[0]}


@dataclass(frozen=True, slots=True)
class Slash:
    cmd: str
    """The protocol command it sends (or the local one)."""
    parse: Callable[[str, list[str]], dict[str, Any]]
    """The words after the name → the command's arguments; raises InputError with the usage."""
    usage: str
    help: str
    local: bool = False


SLASH: dict[str, Slash] = {
    "jump": Slash("jump", _jump, "/jump SECTION [bar]", "jump at the next section boundary (or the next bar)"),
    "tempo": Slash("tempo", _tempo, "/tempo BPM", "change the tempo from the next bar"),
    "mute": Slash("mute", _part("track", on=True), "/mute PART", "mute drums, bass, chords or lead from the next bar"),
    "unmute": Slash("mute", _part("track", on=False), "/unmute PART", "unmute a part from the next bar"),
    "regen": Slash("regenerate", _part("part"), "/regen PART", "a new version of a part, at the next section"),
    "play": Slash("play", _none, "/play", "start playback of the loaded song"),
    "stop": Slash("stop", _none, "/stop", "stop playback now (every note ended)"),
    "panic": Slash("panic", _none, "/panic", "end every note: all notes off on every channel"),
    "refine": Slash("refine", _text, "/refine CHANGE", "change the song: bass too busy, 3rd chord darker, tempo 96"),
    "alt": Slash("alternatives", _alternatives, "/alt PART [N]", "make N (3) alternatives of a part: A, B, C"),
    "choose": Slash("choose", _choose, "/choose PART LABEL", "play one of a part's alternatives from the next section"),
    "ab": Slash("ab", _part("part"), "/ab PART", "switch a part to its next alternative at the next section"),
    "new": Slash("generate", _prompt, "/new PROMPT", "compose a new song and play it (undo brings this one back)"),
    "ask": Slash("generate", _asked, "/ask PROMPT", "compose a new song, pausing after each stage for keep / alternative / edit / quit"),
    "undo": Slash("undo", _none, "/undo", "undo the last change; after a new song, the song before it"),
    "redo": Slash("say", _said("redo"), "/redo", "redo what the last undo undid"),
    "learn": Slash("learn", _learn, "/learn ACTION",
                   "map the next pad or knob you touch to ACTION (controller-map syntax)"),
    "help": Slash("help", _none, "/help", "every key and command (also ? and F1)", local=True),
}
"""Every slash command: its name → what it sends and how its words become arguments."""
ALIASES = {"regenerate": "regen", "alternatives": "alt"}
TIMEOUTS = {"learn": 40.0}
"""Seconds to wait for an answer where the client's default is too short: ``learn`` answers only
when a control arrives (the daemon gives up after 30 s)."""


def parse(line: str) -> Action:
    """One input line as an Action.

    Raises:
        InputError: an empty line, an unknown slash command, or arguments that do not fit.
    """
    text = line.strip()
    if not text:
        raise InputError("type a prompt, or /help for the commands")
    if not text.startswith("/"):
        return checked(PLAIN_TEXT, {"text": text}, text[:40])
    name, *words = text[1:].split() or [""]
    name = ALIASES.get(name.lower(), name.lower())
    spec = SLASH.get(name)
    if spec is None:
        raise InputError(f"unknown command /{name}: /help lists the commands")
    args = spec.parse(name, words)
    if spec.local:
        return Action(spec.cmd, args, local=True)
    return checked(spec.cmd, args, f"/{name}")


GATE_WORDS = {"": "yes", "y": "yes", "yes": "yes", "keep": "yes", "a": "alternative", "alt": "alternative",
              "alternative": "alternative", "another": "alternative", "e": "edit", "edit": "edit", "q": "quit", "quit": "quit"}
"""The answers typed at an approval gate (as ``backbeat generate --ask`` reads them)."""


def gate_answer(line: str) -> Action:
    """A line typed while an approval gate is open: keep, alternative, edit CHANGE or quit.

    Raises:
        InputError: not one of those, or an edit that says nothing.
    """
    word, _, rest = line.strip().partition(" ")
    choice = GATE_WORDS.get(word.lower())
    if choice is None:
        raise InputError(f"the gate waits: answer y (keep), a (another), e CHANGE (edit) or q (quit), not {word!r}")
    if choice == "edit" and not rest.strip():
        raise InputError("say what to change after e, e.g. e key D minor")
    return checked("gate", {"choice": choice, **({"text": rest.strip()} if choice == "edit" else {})}, "gate")


def checked(cmd: str, args: dict[str, Any], what: str) -> Action:
    """``cmd`` with ``args`` validated against the protocol's model for it.

    Raises:
        InputError: the daemon would refuse these arguments; the first problem, in one line.
    """
    if cmd not in ARGS:
        raise InputError(f"{what}: protocol {PROTOCOL} has no {cmd} command")
    try:
        ARGS[cmd].model_validate(args)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{what}: {where + ': ' if where else ''}{first['msg']}") from None
    return Action(cmd, args)


PLAIN_HELP = ("any other text", "said to the daemon: a question is answered, a command (go to the chorus, "
              "undo, redo, back) runs, a change refines the song, a description of a song starts a new one; "
              "anything else is asked back about and changes nothing")


def help_rows() -> list[tuple[str, str]]:
    """Every slash command and what plain text does, as (what to type, what it does)."""
    return [(s.usage, s.help) for s in SLASH.values()] + [PLAIN_HELP]
