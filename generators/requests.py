"""The grammar of refinement requests: what a producer types becomes a ``Reading``.

A request is made regular (``words``), its misspellings corrected out loud (``spelling``), then cut
into clauses at commas, "and", "then", "but"; lists stay whole ("drums and bass", "chords 2 and 3").
Each clause is read on its own: the change phrases of config/refine.toml, the values in it (a
tempo, a percentage, bars, semitones, a key, a swing amount), how much ("a bit", "way") and what
it points at (``targets``: parts, drum lanes, sections, chords). A clause with a change but no
target takes the previous clause's ("the 3rd chord sounds weird, make it darker"); one with
targets but no change takes the previous change ("mute the lead, the bass"). Changes apply in
the order they were read. A change the song cannot take (chord 9 of 4, a section it lacks, an
instrument it has no part for) is a problem line; one that needs a target and has none is a
question; in both cases nothing changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .grammar import SPLIT, grammar, prepare
from .model import PARTS, SongState
from .reading import COMMANDS, Change, Reading
from .tables import tables
from .targets import PartRef, alternation
from .values import Clause, Hit, State, clause_of, part_list, read_values, section_changes

GENERIC = ("remove", "add", "keep", "alternative", "choose", "boring", "double")
"""Change kinds whose meaning depends on what they point at; a specific change in the same clause wins."""
EXAMPLES = ('"bass simpler", "3rd chord darker", "tempo 96", "mute the lead", "make the intro 8 bars", '
            '"warmer", "more swing" or "give me a different bassline"')
_LETTER = re.compile(r"\b(?:option|alternative|version|take|number)\s+([a-f])\b|\b([a-f])\s+(?:option|alternative|version)\b")
_ORDINAL_WORD = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_ONLY = re.compile(r"^(?:(?:\w+\s+){0,3})?(?:only|just)\b")
_NEW_SONG = re.compile(
    r"\b(?:new|another|different)\s+(?:song|track|tune|beat|one entirely|banger|jam)\b|\bmake me\b|\bcompose\b|\bstart (?:a|over with a)\b"
    r"|\b(?:a|an)\s+(?:[\w&'-]+\s+){0,5}(?:song|track|tune|banger|anthem|jam|piece|loop|beat|ballad|instrumental|sketch)\b"
    r"|\b(?:type|style)\s+beat\b"
)



def _choose(c: Clause, s: State, parts: list[PartRef]) -> bool:
    letter = _LETTER.search(c.text)
    ordinal = _ORDINAL_WORD.search(c.text)
    label = (letter.group(1) or letter.group(2)).upper() if letter else chr(64 + int(ordinal.group(1))) if ordinal else None
    if label is None:
        return False
    if not parts:
        s.question = (f"Back to the {ordinal.group(0) if ordinal else 'alternative ' + label} what? Name the part, "
                      f"e.g. \"the first bassline\" or \"drums option B\".")
        return True
    for p in parts:
        s.changes.append(Change("choose", part=p.part, target=label, phrase=c.text))
    return True


def _act(c: Clause, hit: Hit, s: State) -> None:
    """The change ``hit`` asks for, aimed at the clause's targets."""
    spec = tables().refine.changes[hit.name]
    k, d = spec.kind, c.degree
    parts = part_list(c, s)
    if parts is None:
        return
    sections = c.sections
    ask_part = "Which part: drums, bass, chords or lead? (e.g. \"bass simpler\")"
    if k in ("remove", "add", "mute"):
        on = 1.0 if k == "remove" or (k == "mute" and spec.amount > 0) else 0.0
        if parts:
            for p in parts:
                if sections:
                    section_changes(s, sections, lambda i, n, p=p: Change("mute", on, part=p.part, lane=p.lane, section=i, where=n, phrase=hit.words))
                else:
                    s.changes.append(Change("mute", on, part=p.part, lane=p.lane, phrase=hit.words))
        elif sections and k == "add":
            for ref in sections:
                s.changes.append(Change("add_section", target=ref.kind, phrase=hit.words))
        elif sections and k == "remove":
            section_changes(s, sections, lambda i, n: Change("remove_section", section=i, where=n, phrase=hit.words))
        elif k == "add" and (m := re.search(rf"\b(?:add|need|needs|insert|throw in)\s+(?:a|an|another)?\s*({alternation(tables().refine.sections)})", c.text)):
            s.changes.append(Change("add_section", target=m.group(1), phrase=hit.words))
        elif k == "mute":
            s.question = "Which part: drums, bass, chords or lead?"
    elif k == "keep":
        for p in parts:
            s.changes.append(Change("keep", part=p.part, phrase=hit.words))
    elif k == "density" or (k == "energy" and parts and not sections):
        if not parts:
            s.question = ask_part
        amount = spec.amount if k == "density" else (0.3 if spec.amount > 0 else -0.3)
        for p in parts:
            s.changes.append(Change("density", round(amount * d, 3), part=p.part, phrase=hit.words))
    elif k == "color":
        _color(c, hit, s, parts, spec.amount)
    elif k == "mix":
        for p in parts or [None]:
            s.changes.append(Change("mix", mix=spec.mix, part=p.part if p else None, phrase=hit.words))
    elif k in ("length", "double"):
        if not sections:
            if k == "double":
                return
            s.question = f"Which section? The song has: {', '.join(x.name for x in s.song.arrangement.sections)}"
            return
        kind = "double" if k == "double" else "length"
        section_changes(s, sections, lambda i, n: Change(kind, 1.0 if spec.amount >= 0 else -1.0, section=i, where=n, phrase=hit.words))
    elif k == "tempo_rel":
        s.changes.append(Change("tempo_rel", round(1 + (spec.amount - 1) * d, 4), phrase=hit.words))
    elif k == "swing":
        if spec.value is not None:
            s.changes.append(Change("swing_set", spec.value, phrase=hit.words))
        else:
            s.changes.append(Change("swing", round(spec.amount * d, 3), phrase=hit.words))
    elif k == "halftime":
        s.changes.append(Change("halftime", spec.amount, phrase=hit.words))
    elif k in ("energy", "boring"):
        if k == "boring" and parts:
            for p in parts:
                s.changes.append(Change("alternative", part=p.part, phrase=hit.words))
            return
        amount = round((spec.amount if k == "energy" else 0.15) * d, 3)
        if sections:
            section_changes(s, sections, lambda i, n: Change("energy", amount, section=i, where=n, phrase=hit.words))
        else:
            s.changes.append(Change("energy", amount, phrase=hit.words))
    elif k in ("alternative", "choose"):
        if _choose(c, s, parts):
            return
        if not parts:
            if k == "alternative":
                s.question = "Something different on which part: drums, bass, chords or lead?"
            return
        for p in parts:
            s.changes.append(Change("alternative", part=p.part, phrase=hit.words))


def _color(c: Clause, hit: Hit, s: State, parts: list[PartRef], amount: float) -> None:
    if c.chords:
        for ref in c.chords:
            if ref.problem:
                s.problem = s.problem or ref.problem
                return
            for n in ref.chords:
                s.changes.append(Change("color", amount, chord=n, target="chord", phrase=hit.words))
        return
    if "key" in c.targets:
        s.changes.append(Change("color", amount, target="key", phrase=hit.words))
        return
    if "mix" in c.targets:
        s.changes.append(Change("mix", mix="warm" if amount < 0 else "bright", phrase=hit.words))
        return
    if any(p.part == "chords" for p in parts):
        for n in range(1, len(s.song.progression.chords) + 1):
            s.changes.append(Change("color", amount, chord=n, target="chord", phrase=hit.words))
        return
    if parts:
        for p in parts:
            s.changes.append(Change("mix", mix="warm" if amount < 0 else "bright", part=p.part, phrase=hit.words))
        return
    s.changes.append(Change("color", amount, target="key", phrase=hit.words))  # the mood of the whole song: its mode


def _only(c: Clause, s: State) -> bool:
    """ "just drums", "only bass and drums": every other part is muted."""
    if c.hits or not c.parts or not _ONLY.search(c.text):
        return False
    keep = {p.part for p in c.parts}
    for part in PARTS:
        if part not in keep:
            s.changes.append(Change("mute", 1.0, part=part, phrase=c.text))
    return True


def _read_clause(c: Clause, s: State) -> None:
    before = len(s.changes)
    valued = read_values(c, s)
    if s.problem or s.question:
        return
    specific = [h for h in c.hits if h.kind not in GENERIC and not (valued and h.kind in ("tempo_rel", "swing", "length"))]
    generic = [h for h in c.hits if h.kind in GENERIC]
    if not c.hits and not valued:
        if _only(c, s):
            return
        if c.has_targets and s.last is not None and s.last.hits:  # "mute the lead, the bass"
            inherited = Clause(c.text, s.last.hits, c.parts, c.sections, c.chords, c.degree, c.targets)
            for h in inherited.hits[:1]:
                _act(inherited, h, s)
        return
    if c.hits and not c.has_targets and s.last is not None and s.last.has_targets and (
        not s.last.hits or {h.kind for h in s.last.hits} & {h.kind for h in c.hits}
    ):  # "the 3rd chord sounds weird, make it darker"; "bass too busy, simplify"
        c = Clause(c.text, c.hits, s.last.parts, s.last.sections, s.last.chords, c.degree, s.last.targets)
    chosen = specific or ([] if valued else generic[:1])
    if valued and not specific:
        return
    for h in chosen:
        _act(c, h, s)
        if s.problem or s.question:
            return
    if generic and not specific and len(s.changes) == before and not s.question:
        for h in generic[1:]:
            _act(c, h, s)
            if len(s.changes) > before or s.question or s.problem:
                return


def _unknown(clean: str) -> list[str]:
    known = grammar().known
    return list(dict.fromkeys(w for w in re.findall(r"[a-z']+", clean) if w not in known and w.strip("'") not in known and len(w) > 1))


def read(text: str, song: SongState) -> Reading:
    """What ``text`` asks of ``song``: changes in order, or a question or a problem (then nothing changes)."""
    if not text.strip():
        return Reading(text=text, question=f"What should change? e.g. {EXAMPLES}", understood=False)
    clean, fixes = prepare(text)
    from .transport import history_command

    if (kind := history_command(clean)) is not None:
        return Reading(text=text, changes=[Change(kind, phrase=kind)], corrections=fixes)
    from .intent import scan

    s = State(song, mentions=scan(clean))
    for part in SPLIT.split(clean):
        part = part.strip(" +")
        if not part:
            continue
        if s.changes and s.changes[-1].kind == "length_set" and (m := re.fullmatch(r"(.+?)\s+(\d+)", part)):
            part = f"{m.group(1)} {m.group(2)} bars"  # "the intro 8 bars and the outro 8"
        c = clause_of(part, song)
        _read_clause(c, s)
        if s.problem or s.question:
            break
        s.last = c
    describes = _describes(clean, s)
    if s.problem or s.question:
        return Reading(text=text, corrections=fixes, question=s.question, problem=s.problem, describes=describes)
    changes = _unique(s.changes)
    if not changes:
        unknown = _unknown(clean)
        heard = f" (unknown words: {', '.join(unknown)})" if unknown else ""
        return Reading(text=text, corrections=fixes, unknown=unknown, understood=False, describes=describes,
                       question=f"I did not understand “{text.strip()[:60]}” as a change{heard}. Try e.g. {EXAMPLES}.")
    return Reading(text=text, changes=changes, corrections=fixes, unknown=_unknown(clean), describes=describes)


def _describes(clean: str, s: State) -> bool:
    """Whether the request describes a song (a genre, an artist or a new-song phrase) rather than
    asking for changes beyond its tempo, key and length."""
    if _NEW_SONG.search(clean):
        return True
    if s.steered or s.problem or s.question:
        return False
    mentions = {m.kind for m in s.mentions}
    if not mentions & {"genre", "subgenre", "artist", "mood"}:
        return False
    musical = {c.kind for c in s.changes} - {"tempo", "key", "length_set"}
    return not musical if mentions & {"genre", "subgenre", "artist"} else not s.changes


def _unique(changes: list[Change]) -> list[Change]:
    """Each change once ("too busy, simplify" asks once), in the order first read."""
    out: list[Change] = []
    for c in changes:
        if not any(c.model_dump(exclude={"phrase"}) == u.model_dump(exclude={"phrase"}) for u in out):
            out.append(c)
    return out


def parse(request: str, song: SongState) -> list[Change] | Question:
    """The changes ``request`` asks for, or a question (the form ``generators.llm.refining`` takes).

    Raises:
        BadRequestError: the request names what the song does not have.
    """
    from .errors import BadRequestError

    reading = read(request, song)
    if reading.problem:
        raise BadRequestError(reading.problem)
    if reading.question or not reading.changes:
        return Question(reading.question or "What should change?", reading.understood)
    return list(reading.changes)


@dataclass(frozen=True, slots=True)
class Question:
    """Nothing changed: the request needs an answer first."""

    text: str
    understood: bool = True
    """False when no change was recognised at all (a model, if configured, may read it instead)."""


__all__ = ["COMMANDS", "Change", "Question", "Reading", "parse", "prepare", "read"]

