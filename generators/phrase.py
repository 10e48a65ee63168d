"""The rhythm of a lead: bar cells, how a motif's rhythm varies, and how a section's bars fall into
phrases (antecedent and consequent, call and response) that end on a cadence and breathe.

A cell is one bar of 16 steps as (step, length) onsets. A section's plan gives each bar a cell and a
role: the phrase's ``motif`` (the song's motif, varied in the consequent), ``develop`` bars (the
motif varied, or the style's answering cell), and the phrase's last bar, a ``half`` cadence
(antecedent) or a ``final`` one, whose last note lasts at least a beat and, in a sung-like style, is
followed by a rest of a beat or more.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from .tables import LeadStyle

STEPS = 16
Cell = tuple[tuple[int, int], ...]
"""(step, length in steps) of each onset of one bar."""
Role = Literal["motif", "develop", "half", "final"]


@dataclass(frozen=True, slots=True)
class BarPlan:
    cell: Cell
    role: Role
    phrase: int
    """Which phrase of the section the bar belongs to."""


def parse(text: str) -> Cell:
    """A cell from a step string ("x" onset, "-" hold, "." rest)."""
    onsets = []
    for i, char in enumerate(text):
        if char != "x":
            continue
        end = i + 1
        while end < len(text) and text[end] == "-":
            end += 1
        onsets.append((i, end - i))
    return tuple(onsets)


def _tidy(onsets: list[tuple[int, int]]) -> Cell:
    """Sorted onsets, none overlapping the next nor running past the bar."""
    onsets = sorted({s: n for s, n in onsets if 0 <= s < STEPS and n > 0}.items())
    out = []
    for i, (s, n) in enumerate(onsets):
        limit = onsets[i + 1][0] if i + 1 < len(onsets) else STEPS
        out.append((s, max(1, min(n, limit - s))))
    return tuple(out)


def thin(cell: Cell, density: float, rng: random.Random) -> Cell:
    """``cell`` with each onset after the first kept at ``density``; a dropped note lengthens the one before."""
    kept: list[tuple[int, int]] = []
    for s, n in cell:
        if kept and rng.random() > density:
            last_s, last_n = kept[-1]
            if last_s + last_n == s:
                kept[-1] = (last_s, last_n + n)
            continue
        kept.append((s, n))
    return _tidy(kept)


def displace(cell: Cell, shift: int) -> Cell:
    """Every onset ``shift`` steps later (what falls off the bar is dropped, the first note stays on 1)."""
    moved = [(s + shift, n) for s, n in cell if s + shift < STEPS]
    if cell and cell[0][0] == 0:
        moved = [(0, shift), *moved]
    return _tidy(moved)


def split(cell: Cell, rng: random.Random) -> Cell:
    """The longest note cut in two (a repeated note, the way a singer splits a syllable)."""
    long = [o for o in cell if o[1] >= 2]
    if not long:
        return cell
    s, n = max(long, key=lambda o: (o[1], rng.random()))
    half = n // 2
    return _tidy([o for o in cell if o != (s, n)] + [(s, half), (s + half, n - half)])


def merge(cell: Cell, rng: random.Random) -> Cell:
    """One note held over the next (two syllables become one)."""
    if len(cell) < 3:
        return cell
    i = rng.randrange(1, len(cell) - 1)
    (s, n), (s2, n2) = cell[i], cell[i + 1]
    joined = [o for k, o in enumerate(cell) if k not in (i, i + 1)] + [(s, s2 + n2 - s)]
    return _tidy(joined)


def syncopate(cell: Cell, rng: random.Random) -> Cell:
    """One on-beat onset pulled an eighth early (an anticipation)."""
    candidates = [k for k, (s, _) in enumerate(cell) if s % 4 == 0 and s >= 4 and all(o[0] != s - 2 for o in cell)]
    if not candidates:
        return cell
    k = rng.choice(candidates)
    s, n = cell[k]
    return _tidy([o for i, o in enumerate(cell) if i != k] + [(s - 2, n + 2)])


VARIATIONS = (displace, split, merge, syncopate)


def _once(cell: Cell, rng: random.Random, fine: bool) -> Cell:
    for _ in range(4):
        how = rng.choice(VARIATIONS)
        out = how(cell, rng.choice((1, 2)) if fine else 2) if how is displace else how(cell, rng)
        if out != cell and out:
            return out
    return cell


def vary(cell: Cell, rng: random.Random, fine: bool = False) -> Cell:
    """``cell`` changed one or two ways: displaced by an eighth (or, ``fine``, a sixteenth), a note
    split, two merged, one anticipated."""
    out = _once(cell, rng, fine)
    return _once(out, rng, fine) if rng.random() < 0.5 else out


def cadence(cell: Cell, sung: bool, rng: random.Random, fine: bool = False) -> Cell:
    """The phrase's last bar: the cell's opening, then a long note landing on or near beat 2 or 3 —
    at least a beat — and, in a sung-like style, a rest of more than a beat after it."""
    end = 11 if sung else STEPS  # five steps of rest: a beat and a little, whatever the feel does to it
    land = rng.choice((4, 6, 7) if sung else (4, 6, 8, 10))
    if rng.random() < 0.5:
        cell = vary(cell, rng, fine)
    opening = [(s, n) for s, n in cell if s < land][:3]
    return _tidy([*opening, (land, end - land)])


def plan(bars: int, size: int, style: LeadStyle, motif: Cell, answer: Cell, rng: random.Random, fine: bool = False) -> list[BarPlan]:
    """Each bar's cell and role for a section of ``bars`` bars (of the lead's own bar length).

    Phrases are ``size`` bars long; even phrases are antecedents (ending on a half cadence), odd
    ones consequents, and the section's last phrase always ends on a final cadence. Every other
    period opens with the motif itself, the phrases between restate it varied, so the motif repeats
    and varies in rhythm; each period (two phrases) answers with its own variant of the answer, or
    in a long section now and then with a fresh cell of the style.
    """
    out: list[BarPlan] = []
    phrases = max(1, -(-bars // size))
    answers = [answer]
    for j in range(phrases):
        while len(answers) <= j // 2:  # a new period: the answer varied, or every other time a fresh cell
            fresh = thin(parse(rng.choice(style.cells)), style.density, rng) if len(answers) % 2 == 0 else None
            answers.append(fresh if fresh and fresh != motif else vary(answers[-1], rng, fine))
        reply = answers[j // 2]
        first, last = j * size, min(bars, (j + 1) * size) - 1
        for b in range(first, last + 1):
            if b == last and (b > first or bars == 1):
                role: Role = "final" if j % 2 or j == phrases - 1 else "half"
                source = motif if (b - first) % 2 == 0 else reply
                out.append(BarPlan(cadence(source, style.sung, rng, fine), role, j))
            elif b == first:
                out.append(BarPlan(motif if j % 4 == 0 else vary(motif, rng, fine), "motif", j))
            else:
                out.append(BarPlan(reply if (b - first) % 2 else vary(motif, rng, fine), "develop", j))
    return out


def repeat_varied(bars: list[BarPlan], occurrence: int, rng: random.Random) -> list[BarPlan]:
    """A later statement of a section's plan: its opening phrases as they were (recognisably the
    same), its closing phrase — its closing period, in a long section — varied throughout (never a
    copy)."""
    if occurrence == 0 or not bars:
        return bars
    last = bars[-1].phrase
    first_varied = last - 1 if last >= 3 else last
    out = []
    for i, bar in enumerate(bars):
        # a one-phrase section keeps its first half: the call stays, the response changes
        late = bar.phrase >= first_varied and (last > 0 or i >= len(bars) // 2)
        out.append(BarPlan(vary(bar.cell, rng), bar.role, bar.phrase) if late and bar.role in ("develop", "motif") else bar)
    return out
