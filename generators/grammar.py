"""The vocabulary of the request grammar, compiled once from config/refine.toml (and the genre,
scale and question tables), and a request made ready for it: normal, misspellings corrected out
loud, numbers in digits, lists kept whole ("drums and bass" is one target, not two clauses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .questions import question_table
from .reading import Correction
from .spelling import correct
from .tables import tables
from .targets import alternation, spelled_accidentals
from .words import ORDINALS, TENS, UNITS, normal, with_digits


@dataclass(frozen=True, slots=True)
class Grammar:
    changes: re.Pattern[str]
    change_of: dict[str, str]
    degrees: re.Pattern[str]
    steer: re.Pattern[str]
    forms: re.Pattern[str]
    targets: re.Pattern[str]
    target_of: dict[str, str]
    lists: re.Pattern[str]
    tiers: tuple[frozenset[str], ...]
    """The vocabulary for spelling, most important first: targets and commands, changes, the rest."""
    vocabulary: frozenset[str]
    known: frozenset[str]
    chat: frozenset[str]


UNIT_WORDS = ("bpm", "bar", "bars", "percent", "semitone", "semitones", "tone", "tones", "step", "steps", "half", "whole",
              "up", "down", "by", "to", "at", "of", "in", "on", "for", "from", "into", "out", "the", "and", "then", "also",
              "plus", "but", "except", "everything", "all", "every", "each", "only", "just", "last", "final", "chord",
              "section", "number", "speed", "pace", "tempo", "transpose", "major", "minor", "sharp", "flat", "feel",
              "beats", "minute", "minutes", "what", "which", "how", "many", "long", "song", "track", "please", "make",
              "something", "option", "alternative", "a", "b", "c", "d", "e", "f", "g", "it", "is", "are", "be", "me")


def _words_of(phrases: object) -> set[str]:
    return {w for p in phrases for w in re.findall(r"[a-z]+", p)}  # type: ignore[attr-defined]


@cache
def grammar() -> Grammar:
    """config/refine.toml compiled: one alternation per kind of phrase, and the vocabulary."""
    r = tables().refine
    change_of: dict[str, str] = {}
    for name, change in r.changes.items():
        for w in change.words:
            change_of.setdefault(w, name)
    target_of = {w: t for t, words in r.targets.items() for w in words}
    listed = [w for words in r.parts.values() for w in words] + [w for lane in r.lanes.values() for w in lane.words]
    listed += [w for s in r.sections.values() for w in s.words] + list(r.parts)
    lists = re.compile(rf"({alternation(listed)}|\b\d+)\s*(?:,|\band\b|&|\bor\b)\s*(?:the\s+)?(?=(?:{alternation(listed)}|\d+\b))")
    c = r.commands
    first = _words_of([*listed, *r.words.not_parts, *c.undo, *c.redo, *c.revert, "tempo", "key", "bpm", "chord", "chords"])
    second = _words_of([*change_of, *target_of, *r.degrees, *r.genre_forms, *c.jump, *c.next, *c.stop, *c.play]) - first
    phrases = [*r.words.steer, *r.words.fillers, *r.sections, *UNITS, *TENS, *ORDINALS, *UNIT_WORDS, *r.spellings.values()]
    for q in question_table().questions:  # the question words are vocabulary too
        phrases += re.findall(r"[a-z]{3,}", " ".join(q.patterns))
    for key, g in tables().intent.genres.items():
        phrases += [key, g.name.lower(), *g.aliases]
    phrases += [n for s in tables().intent.subgenres.values() for n in (s.name.lower(), *s.aliases)]
    phrases += [n for key, s in tables().theory.scales.items() for n in (key, *s.aliases)]
    rest = frozenset(_words_of(phrases)) - first - second
    vocabulary = first | second | rest
    return Grammar(
        changes=re.compile(alternation(change_of)), change_of=change_of,
        degrees=re.compile(alternation(r.degrees)), steer=re.compile(alternation(r.words.steer)),
        forms=re.compile(alternation(r.genre_forms)), targets=re.compile(alternation(target_of)), target_of=target_of,
        lists=lists, tiers=(frozenset(first), frozenset(second), rest), vocabulary=vocabulary, known=vocabulary | frozenset(r.words.chat), chat=frozenset(r.words.chat),
    )


def prepare(text: str) -> tuple[str, list[Correction]]:
    """``text`` made regular for the grammar: normal, misspellings corrected, numbers in digits,
    lists joined with "+" so clause splitting keeps them whole; and the corrections made."""
    g = grammar()
    r = tables().refine
    words, fixes = correct(spelled_accidentals(normal(text)).split(" "), g.tiers, r.spellings, g.chat, g.vocabulary)
    clean = with_digits(" ".join(words))
    clean = g.lists.sub(r"\1 + ", g.lists.sub(r"\1 + ", clean))
    return clean, [Correction(word=f.word, reading=f.reading) for f in fixes]


SPLIT = re.compile(r"\s*(?:[,;!?:()\"]|(?<!\d)\.|\.(?!\d)|\band then\b|\bthen\b|\band also\b|\balso\b|\bplus\b|\bbut\b|\band\b|\bafter that\b)\s*")


