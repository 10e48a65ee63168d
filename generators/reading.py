"""What a request was read as: a validated ``Reading`` of ordered ``Change`` values.

The grammar (``generators.requests``) makes a Reading; ``generators.revisions`` applies its changes
in order; ``backbeat refine --dry-run`` prints it; every reply lists it. A change knows how to say
itself in one short line (``label``): ``tempo = 96``, ``lead: mute``, ``chord 3: darker``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .model import Part

Kind = Literal[
    "tempo", "tempo_rel", "tempo_step", "density", "color", "mix", "mute", "length", "length_set", "double",
    "add_section", "remove_section", "swing", "swing_set", "halftime", "energy", "genre", "key", "transpose",
    "alternative", "choose", "keep", "undo", "redo", "revert",
]
COMMANDS = ("undo", "redo", "revert")
"""Change kinds that are commands on the session's history rather than edits of the song."""

_NEEDS: dict[str, tuple[str, ...]] = {
    "tempo": ("bpm",), "density": ("part",), "mute": ("part",), "alternative": ("part",), "choose": ("part", "target"),
    "keep": ("part",), "length": ("section",), "length_set": ("section", "bars"), "double": ("section",),
    "remove_section": ("section",), "add_section": ("target",), "genre": ("genre",), "key": ("key",),
    "swing_set": ("amount",), "color": ("target",), "mix": ("mix",),
}


class Change(BaseModel):
    """One change to a song. ``kind`` says what changes; the other fields what it applies to and by
    how much (whichever the kind needs). ``kind`` and ``amount`` may be given by position."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    kind: Kind
    amount: float = 0.0
    """density/energy/swing: the step (negative: less); tempo_rel: a factor; tempo_step: BPM to add;
    mute: 1 mutes, 0 brings back; halftime: 1 on, 0 off; length: +1 longer, -1 shorter (by ``bars``,
    or by a phrase when ``bars`` is None); swing_set: the swing (0..1); transpose: semitones."""
    part: Part | None = None
    lane: str | None = None
    """A drum lane group of config/refine.toml [lanes] ("hats"): only those drums are muted."""
    chord: int | None = None
    """1-based; -1 the last."""
    section: Annotated[int, Field(ge=0)] | None = None
    """Index into the arrangement's sections."""
    where: str | None = None
    """The section's name, for the reply (the index alone says little)."""
    target: str | None = None
    """color: chord, key or mix; add_section: the kind added; choose: the alternative's label."""
    mix: str | None = None
    key: tuple[str | None, str | None] | None = None
    """(root, mode), either may be None (kept)."""
    bpm: Annotated[float, Field(gt=0)] | None = None
    bars: Annotated[int, Field(ge=1)] | None = None
    """length_set: the section's new length; length: how many bars longer or shorter."""
    genre: str | None = None
    phrase: str = ""
    """The words it was read from."""

    def __init__(self, kind: str | None = None, amount: float | None = None, /, **data: Any) -> None:
        if kind is not None:
            data["kind"] = kind
        if amount is not None:
            data["amount"] = amount
        super().__init__(**data)

    @model_validator(mode="after")
    def _complete(self) -> Change:
        missing = [f for f in _NEEDS.get(self.kind, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} change needs {' and '.join(missing)}")
        return self

    @property
    def label(self) -> str:
        """The change in one short line, as a dry run prints it."""
        k, a = self.kind, self.amount
        scope = f" in {self.where}" if self.where and k in ("mute", "energy") else ""
        who = f"{self.part}/{self.lane}" if self.lane else self.part
        size = "a bit " if abs(a) < 0.25 else "much " if abs(a) > 0.45 else ""
        return {
            "tempo": lambda: f"tempo = {self.bpm:g}",
            "tempo_rel": lambda: f"tempo × {round(a, 3):g}",
            "tempo_step": lambda: f"tempo {'+' if a >= 0 else '-'} {abs(a):g}",
            "density": lambda: f"{who}: {size}{'sparser' if a < 0 else 'busier'}",
            "color": lambda: f"{self._colored()}: {'darker' if a < 0 else 'brighter'}",
            "mix": lambda: f"{self.part + ' ' if self.part else ''}mix: {self.mix}",
            "mute": lambda: f"{who}: {'mute' if a > 0 else 'unmute'}{scope}",
            "length": lambda: f"{self.where}: {'longer' if a > 0 else 'shorter'}" if self.bars is None
            else f"{self.where}: {'+' if a > 0 else '-'}{self.bars} bars",
            "length_set": lambda: f"{self.where}: {self.bars} bars",
            "double": lambda: f"{self.where}: × 2",
            "add_section": lambda: f"add {self.target}",
            "remove_section": lambda: f"remove {self.where}",
            "swing": lambda: f"swing {round(a, 2):+g}",
            "swing_set": lambda: f"swing = {round(a, 2):g}",
            "halftime": lambda: f"half-time: {'on' if a > 0 else 'off'}",
            "energy": lambda: f"energy {'up' if a > 0 else 'down'}{scope}",
            "genre": lambda: f"genre: {self.genre}",
            "key": lambda: "key = " + " ".join(x for x in self.key if x),
            "transpose": lambda: f"key {'+' if a >= 0 else '-'} {abs(a):g}",
            "alternative": lambda: f"{self.part}: something different",
            "choose": lambda: f"{self.part}: alternative {self.target}",
            "keep": lambda: f"{self.part}: keep",
        }.get(k, lambda: k)()

    def _colored(self) -> str:
        if self.target == "chord":
            return "last chord" if self.chord == -1 else f"chord {self.chord}"
        return self.target or "?"


class Correction(BaseModel):
    """A word read as another: a misspelling, or an informal spelling."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    word: str
    reading: str

    def __str__(self) -> str:
        return f"{self.word} → {self.reading}"

    @property
    def line(self) -> str:
        return f"reading '{self.word}' as '{self.reading}'"


class Reading(BaseModel):
    """A request as the grammar read it. ``changes`` apply in order; a ``question`` or a ``problem``
    means nothing changes (an answer is needed first, or the request cannot be applied)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    text: str
    changes: list[Change] = []
    corrections: list[Correction] = []
    unknown: list[str] = []
    """Words it did not understand."""
    question: str | None = None
    """Asked back: the request is ambiguous or not understood. Nothing changes."""
    problem: str | None = None
    """One line: read, but it cannot be applied to this song (a chord or section it lacks)."""
    understood: bool = True
    """False when nothing in it was recognised (a model, if configured, may read it instead)."""
    describes: bool = False
    """It names genres, artists or moods without asking to change anything: a new song."""

    def labels(self) -> list[str]:
        return [c.label for c in self.changes]

    def lines(self) -> list[str]:
        """What a reply says it read: the corrections, then each change."""
        return [c.line for c in self.corrections] + [f"read: {c.label}" for c in self.changes]


class Command(BaseModel):
    """A command on the playing song that a request amounts to ("go to the chorus", "stop", "undo")."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    action: Literal["jump", "stop", "play", "undo", "redo", "revert"]
    section: Annotated[int, Field(ge=0)] | None = None
    """jump: the section (index); None with ``kind`` for the next one of a kind, with ``next`` for the next."""
    kind: str | None = None
    """jump: a section kind ("the chorus": the next chorus from where the song is)."""
    next: bool = False
    label: str
    """One line: "jump chorus 1", "stop", "undo"."""
    problem: str | None = None
    """Read, but not possible on this song (a section it lacks)."""
    corrections: list[Correction] = []
