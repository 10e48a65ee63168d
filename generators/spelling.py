"""Misspellings and near words, corrected out loud: "chrous" is read as "chorus", and says so.

A word is corrected only when it is not a word of the vocabulary the caller knows and not an
English word either (a dictionary decides, so "look" never becomes "hook" nor "led" "lead"), and
a vocabulary word lies within a small edit distance of it (rapidfuzz's optimal string alignment,
which counts a swapped pair of letters as one edit). The vocabulary comes in tiers, most important
first (parts and sections before genre names): the first tier with a word in reach wins, and within
it the nearest, then one of the same length, then the closest by rapidfuzz's ratio. A table of known spellings ("base line" is a bass line, "wat" is "what") is applied
first, and also echoed. Every correction is returned, for the reply to list.
"""

from __future__ import annotations

import bisect
import gzip
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import platformdirs
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from .files import atomic_write

MIN_LENGTH = 3
"""Shorter words are never corrected: too many real words lie one letter apart."""
REAL_WORD = 5
"""How often a word must occur in the dictionary's frequency list to count as an English word."""


@dataclass(frozen=True, slots=True)
class Fix:
    word: str
    reading: str


def _cache_file() -> Path:
    from importlib.metadata import version

    return Path(platformdirs.user_cache_dir("backbeat")) / f"english-words-{version('pyspellchecker')}-v2.txt"


@cache
def _dictionary() -> str:
    """English words (pyspellchecker's frequency list, the words seen at least ``REAL_WORD``
    times), one a line between newlines, loaded on the first word that needs it. Reading the
    package's list takes about a second, so the words are kept as plain text in the user cache
    folder: reading and splitting it takes a few milliseconds, a look-up by bisection microseconds
    (the few words a request needs checked do not pay for hashing a set of 128,000)."""
    path = _cache_file()
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    listed = json.loads(gzip.decompress((resources.files("spellchecker") / "resources" / "en.json.gz").read_bytes()))
    text = "\n" + "\n".join(sorted(w for w, n in listed.items() if n >= REAL_WORD and w.isalpha())) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text.encode())
    except OSError:
        pass  # no cache folder: read the list again next time
    return text


@cache
def _words() -> list[str]:
    return _dictionary().split("\n")  # sorted, so a word is found by bisection


def is_english(word: str) -> bool:
    words = _words()
    i = bisect.bisect_left(words, word)
    return i < len(words) and words[i] == word


def _squeezed(word: str) -> str:
    """Three or more of one letter as two: "wayyy" -> "wayy", "basss" -> "bass"."""
    return re.sub(r"(.)\1{2,}", r"\1\1", word)


def _budget(word: str) -> int:
    return 1 if len(word) <= 4 else 2


def nearest(word: str, tiers: Iterable[Iterable[str]]) -> str | None:
    """The vocabulary word nearest ``word`` within its edit budget, from the first tier that has one."""
    for tier in tiers:
        near = process.extract(word, list(tier), scorer=OSA.distance, score_cutoff=_budget(word), limit=8)
        if near:
            best = min(d for _, d, _ in near)
            closest = [w for w, d, _ in near if d == best]
            return max(closest, key=lambda w: (len(w) == len(word), fuzz.ratio(word, w)))
    return None


def correct(words: list[str], tiers: tuple[frozenset[str], ...], spellings: Mapping[str, str], protected: frozenset[str] = frozenset(),
            vocabulary: frozenset[str] | None = None) -> tuple[list[str], list[Fix]]:
    """``words`` with misspellings replaced, and the fixes made, in order.

    Args:
        words: the request's words (already normal: lower case).
        tiers: the words the caller's grammar knows, most important first.
        spellings: known misspellings and informal spellings -> the word they stand for.
        protected: words never corrected (chat words such as "lol", names).
        vocabulary: the union of ``tiers``, when the caller keeps it.
    """
    vocabulary = frozenset().union(*tiers) if vocabulary is None else vocabulary
    out, fixes = [], []
    for word in words:
        if word in spellings:
            out.append(spellings[word])
            fixes.append(Fix(word, spellings[word]))
            continue
        if word in vocabulary or word in protected or len(word) < MIN_LENGTH or not word.isalpha():
            out.append(word)
            continue
        squeezed = _squeezed(word)
        single = [squeezed[:m.start()] + m.group(1) + squeezed[m.end():] for m in re.finditer(r"(.)\1", squeezed)]
        doubled = next((w for w in (squeezed, *single) if w in vocabulary), None)
        if doubled is not None:  # "basss", "reverbb", "undoo": a key held down
            out.append(doubled)
            fixes.append(Fix(word, doubled))
            continue
        found = nearest(squeezed, tiers)
        if found is None or is_english(word):
            out.append(word)
            continue
        out.append(found)
        fixes.append(Fix(word, found))
    return out, fixes
