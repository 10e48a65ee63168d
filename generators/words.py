"""Words as producers type them, made regular: one spelling of every character, numbers in digits.

``normal`` lower-cases a request and unifies its punctuation; ``with_digits`` rewrites numbers
spelled in words ("ninety-six", "a hundred and twenty", "one twenty", "eight bars") and ordinals
("second", "3rd") as digits ("96", "120", "8 bars", "2nd", "3rd"), so every later rule reads numbers
one way. Nothing here knows music: the grammar in ``generators.requests`` and the prompt reader in
``generators.intent`` build on it.
"""

from __future__ import annotations

import re

UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16,
}
SUFFIX = {1: "st", 2: "nd", 3: "rd"}

_UNIT_AFTER = re.compile(r"\s*(?:bars?|bpm|beats?|semitones?|steps?|tones?|minutes?|mins?|seconds?|percent|%|chords?|sections?|times)\b")
"""A word after "one" that makes it a number ("one bar") rather than a pronoun ("the first one")."""
_COUNTED = re.compile(r"(?:\b(?:chord|chords|verse|chorus|section|bar|bars|drop|hook|option|number|to|at|by|and|tempo|bpm)\s*)$")
"""A word before "one" that makes it a number ("chord one", "bars nine to sixteen")."""


def ordinal(n: int) -> str:
    """``n`` as "1st", "2nd", "3rd", "4th" ... "11th"."""
    suffix = "th" if 10 <= n % 100 <= 20 else SUFFIX.get(n % 10, "th")
    return f"{n}{suffix}"


_HYPHEN = re.compile(r"(?<=[^\W\d])-(?=\w)|(?<=\w)-(?=[^\W\d])")  # "ninety-six", "hi-hats"; "9-16" stays
_STOP = re.compile(r"(?<![\d.])\.(?!\d)")  # a full stop, not a decimal point
_MARKS = re.compile(r"([,;!?:()\"])")
_PAUSE = re.compile(r"\.\s*(?:\.\s*)+")  # "..." is one pause
_SPACE = re.compile(r"\s+")


def normal(text: str) -> str:
    """``text`` lower-cased, with one spelling of quotes, dashes, sharps and flats, and one space
    between words. Punctuation that separates clauses (, ; ! ? .) is kept."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u2013", "-").replace("\u2014", "-")
    text = text.replace("\u266f", "#").replace("\u266d", "b").replace("->", " ").replace("=>", " ")
    text = _HYPHEN.sub(" ", text.lower())
    text = _MARKS.sub(r" \1 ", _STOP.sub(" . ", text))
    return _SPACE.sub(" ", _PAUSE.sub(" . ", text)).strip()


def _number(words: list[str], i: int) -> tuple[int, int] | None:
    """The number spelled from ``words[i]`` on, and how many words it takes; None if there is none."""
    n, j = 0, i
    w = words
    if j < len(w) and w[j] in ("a", "one") and j + 1 < len(w) and w[j + 1] == "hundred":
        n, j = 100, j + 2
    elif j < len(w) and w[j] in UNITS and UNITS[w[j]] and j + 1 < len(w) and w[j + 1] == "hundred":
        n, j = UNITS[w[j]] * 100, j + 2
    elif j + 1 < len(w) and w[j] in UNITS and 1 <= UNITS[w[j]] <= 9 and (w[j + 1] in TENS or (w[j + 1] in UNITS and 10 <= UNITS[w[j + 1]] <= 19)):
        n, j = UNITS[w[j]] * 100, j + 1  # "one twenty", "one thirty two", "one fifteen"
    if n:  # the rest of a hundred: "and twenty", "twenty four", "five"
        if j + 1 < len(w) and w[j] == "and" and (w[j + 1] in TENS or w[j + 1] in UNITS):
            j += 1
        rest = _below_hundred(w, j)
        if rest is not None:
            n, j = n + rest[0], j + rest[1]
        return n, j - i
    rest = _below_hundred(w, i)
    return rest


def _below_hundred(w: list[str], i: int) -> tuple[int, int] | None:
    if i < len(w) and w[i] in TENS:
        if i + 1 < len(w) and w[i + 1] in UNITS and 1 <= UNITS[w[i + 1]] <= 9:
            return TENS[w[i]] + UNITS[w[i + 1]], 2
        return TENS[w[i]], 1
    if i < len(w) and w[i] in UNITS and w[i] != "oh":
        return UNITS[w[i]], 1
    return None


def with_digits(text: str) -> str:
    """``text`` (already ``normal``) with numbers and ordinals spelled in words written in digits.

    "one" stays a word where it is a pronoun ("the first one", "another one"), and "second" where it
    is a unit of time ("90 second sketch"); "a" counts only in "a hundred".
    """
    words = text.split(" ")
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ORDINALS and not (word == "second" and out and out[-1].replace(".", "").isdigit()):
            out.append(ordinal(ORDINALS[word]))
            i += 1
            continue
        found = _number(words, i)
        if found is None:
            out.append(word)
            i += 1
            continue
        value, length = found
        if word == "one" and length == 1:
            rest = " ".join(words[i + 1:])
            if not (_UNIT_AFTER.match(" " + rest) or _COUNTED.search(" ".join(out))):
                out.append(word)
                i += 1
                continue
        out.append(str(value))
        i += length
    return " ".join(out)
