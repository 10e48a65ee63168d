"""The schemas of the tables in ``config/``: one pydantic model per TOML file (or part of one).

Every table model is frozen and refuses unknown keys, so a typo in a table is an error at load time,
not a silent default. ``generators.tables`` loads, validates and cross-checks them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .model import Arc, GenreDNA, GroupRole, Part, Transition

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Level = Literal["sparse", "main", "busy"]
"""Density variants of a pattern, chosen by a section's energy."""


class Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


# --- artists, genres, moods (intent) --------------------------------------------------------------


class ArtistEntry(Table):
    name: str
    aliases: list[str] = []
    """Other spellings a prompt may use ("frank", "tyler"); matched as whole words, case-insensitive."""
    genre: str
    """Key of genres.toml."""
    traits: list[str]
    tempo: tuple[int, int]
    """Typical tempo range of the artist's records: the clock tempo as usually cited (a trap
    artist at 130-160, not the half-time 65-80), never a doubled tap of a slow song."""
    source: str
    """Where the entry comes from, or "editor's judgement"."""

    @field_validator("tempo")
    @classmethod
    def _range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 30 <= v[0] <= v[1] <= 250:
            raise ValueError(f"tempo range {v} is not an ascending range within 30..250")
        return v


class GenreEntry(Table):
    name: str
    aliases: list[str] = []
    family: str
    """Broad family used to pick templates and sounds: hiphop, rnb, electronic, ..."""
    tempo: tuple[int, int]
    typical_tempo: int
    half_time_feel: bool = False
    """The genre is commonly felt at half its clock tempo (trap, dubstep, ...)."""
    modes: Annotated[list[str], Field(min_length=1)]
    """Preferred modes, most typical first (keys of scales.toml)."""
    keys: Annotated[list[str], Field(min_length=1)]
    """Common tonics for the genre."""
    dna: GenreDNA
    arrangement: str
    """Key of arrangements.toml."""
    drums: str
    """Key of the styles in drums.toml."""
    bass: str
    comping: str
    lead: str
    traits: list[str] = []

    @model_validator(mode="after")
    def _tempo(self) -> GenreEntry:
        if not 30 <= self.tempo[0] <= self.typical_tempo <= self.tempo[1] <= 250:
            raise ValueError(f"{self.name}: typical tempo must lie within the tempo range")
        return self


class MoodEntry(Table):
    words: Annotated[list[str], Field(min_length=1)]
    """Words and phrases that signal this mood ("late-night", "late night", "after hours")."""
    tags: list[str]
    """Mood tags the intent records."""
    dna: dict[str, float] = {}
    """Additive nudges to GenreDNA fields, e.g. {minor_bias = 0.3, brightness = -0.2}."""
    energy: float = 0.0
    """Additive nudge to the overall energy."""
    mode: str | None = None
    """A mode this mood implies when the prompt names no key."""
    genre_hint: str | None = None
    """The genre to assume when this mood is all the prompt says (flagged as an ambiguity)."""


class OutputWords(Table):
    only: dict[str, list[str]] = {}
    add: dict[str, list[str]] = {}


class CreativityWords(Table):
    harmonic_up: list[str] = []
    harmonic_down: list[str] = []
    rhythmic_up: list[str] = []
    rhythmic_down: list[str] = []


class Lexicon(Table):
    half_time: list[str]
    arcs: dict[Arc, list[str]]
    creativity: CreativityWords
    outputs: OutputWords


class SubgenreEntry(Table):
    name: str
    aliases: list[str] = []
    parent: str
    """The key of genres.toml whose idiom it plays as."""
    tempo: tuple[int, int] | None = None
    """The BPM range the genre is usually played at (within the parent's idiom)."""
    source: str
    """Where the row comes from, or "editor's judgement"."""


class IntentTables(Table):
    artists: list[ArtistEntry]
    genres: dict[str, GenreEntry]
    subgenres: dict[str, SubgenreEntry]
    """Recognised genres without an idiom of their own (config/subgenres.toml)."""
    moods: dict[str, MoodEntry]
    lexicon: Lexicon


# --- theory ---------------------------------------------------------------------------------------


class ScaleEntry(Table):
    intervals: list[int]
    """Semitones above the tonic, ascending, starting at 0."""
    aliases: list[str] = []
    mpc: str
    """The scale's name in MPC Beats' progression files."""
    minor: bool
    """Whether the tonic triad is minor (decides key-signature spelling)."""

    @field_validator("intervals")
    @classmethod
    def _intervals(cls, v: list[int]) -> list[int]:
        if not v or v[0] != 0 or v != sorted(set(v)) or v[-1] > 11:
            raise ValueError(f"intervals {v} must ascend from 0 within an octave")
        return v


class QualityEntry(Table):
    intervals: list[int]
    """Semitones above the root, e.g. [0, 3, 7, 10] for a minor seventh."""
    kind: Literal["major", "minor", "dominant", "diminished", "half-diminished", "augmented", "suspended"]
    """Decides the roman numeral's case and the chord-tone logic of the bass."""


class TheoryTables(Table):
    scales: dict[str, ScaleEntry]
    qualities: dict[str, QualityEntry]
    """Keyed by the symbol suffix: "" is a major triad, "m7" a minor seventh."""


# --- harmony, arrangement ---------------------------------------------------------------------------


class ProgressionTemplate(Table):
    name: str
    style: Literal["functional", "modal", "loop", "blues"]
    modes: list[str]
    """Modes (scales.toml keys) the template is written for."""
    families: list[str]
    """Genre families (or genre keys) it suits."""
    degrees: Annotated[list[str], Field(min_length=1, max_length=16)]
    """Scale degrees 1-7, optionally flattened or sharpened: "1", "4", "b7", "#4"."""
    beats: list[int] = []
    """Beats per chord; empty means one bar each."""

    @model_validator(mode="after")
    def _shape(self) -> ProgressionTemplate:
        for d in self.degrees:
            if not re.fullmatch(r"[b#]?[1-7]", d):
                raise ValueError(f"{self.name}: degree {d!r} is not 1-7 with an optional b/#")
        if self.beats and len(self.beats) != len(self.degrees):
            raise ValueError(f"{self.name}: beats must list one value per degree")
        return self


class SectionSpec(Table):
    kind: str
    bars: Annotated[int, Field(ge=1, le=256)]
    energy: Unit
    transition: Transition
    tracks: list[Part]
    harmony: Literal["main", "first-half", "second-half", "tonic", "reverse"] = "main"
    """Which part of the chord loop the section plays."""


class ArrangementTemplate(Table):
    arc: Arc
    sections: Annotated[list[SectionSpec], Field(min_length=1)]


class ArrangementTables(Table):
    progressions: list[ProgressionTemplate]
    templates: dict[str, ArrangementTemplate]
    priority: dict[str, int]
    """Section kind -> importance (1 = most) when a short song must drop sections."""


# --- parts ------------------------------------------------------------------------------------------


class PartSpec(Table):
    name: str
    group: GroupRole
    channel: Annotated[int, Field(ge=1, le=16)]
    pitch_range: tuple[int, int]
    """Lowest and highest MIDI note the part should use."""


def _check_steps(where: str, text: str, steps: int, alphabet: str) -> None:
    if len(text) != steps or set(text) - set(alphabet):
        raise ValueError(f"{where}: {text!r} must be {steps} characters of {alphabet!r}")


class DrumStyle(Table):
    steps: Literal[12, 16, 24, 32] = 16
    """Steps per bar of every pattern string."""
    swing: Unit = 0.0
    """The style's own swing; blended with the DNA's."""
    variants: dict[Level, dict[str, str]]
    """Per density level, lane (a key of the GM map) -> step string. "X" accent, "x" hit, "o" ghost, "." rest."""
    fills: list[str] = []
    """Keys of the fills table this style uses into section changes."""
    halftime: dict[str, str] = {}
    """Lane overrides that give the half-time feel (snare on 3)."""
    rolls: Unit = 0.0
    """Chance per bar, scaled by the rhythmic dial, of a hi-hat roll (ratchet) on the last beat."""

    @model_validator(mode="after")
    def _steps(self) -> DrumStyle:
        for level, lanes in self.variants.items():
            for lane, text in lanes.items():
                _check_steps(f"{level}.{lane}", text, self.steps, "Xxo.")
        for lane, text in self.halftime.items():
            _check_steps(f"halftime.{lane}", text, self.steps, "Xxo.")
        if set(self.variants) != {"sparse", "main", "busy"}:
            raise ValueError("a drum style needs sparse, main and busy variants")
        return self


class DrumFill(Table):
    steps: Literal[12, 16, 24, 32] = 16
    lanes: dict[str, str]
    """Step strings for the last bar of a section; "." leaves the groove's own hit."""
    clear: list[str] = []
    """Groove lanes silenced while the fill plays."""

    @model_validator(mode="after")
    def _steps(self) -> DrumFill:
        for lane, text in self.lanes.items():
            _check_steps(lane, text, self.steps, "Xxo.")
        return self


class DrumTables(Table):
    gm: dict[str, Annotated[int, Field(ge=27, le=87)]]
    """Lane name -> General MIDI percussion note (channel 10)."""
    styles: dict[str, DrumStyle]
    fills: dict[str, DrumFill]


class PatternStyle(Table):
    """A bass or comping style: step strings per density level."""

    steps: Literal[12, 16, 24, 32] = 16
    variants: dict[Level, str]
    """Bass: R root, 3/5/7 chord tones, 8 octave, a approach to the next chord, "-" hold, "." rest.
    Comping: X accent, x hit, "-" hold, "." rest."""
    gate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.9
    """Fraction of a note's written length that sounds (legato 1.0, staccato 0.5)."""
    arp: Literal["none", "up", "updown"] = "none"
    """Comping only: play one chord tone per onset, cycling, instead of the whole chord."""

    @model_validator(mode="after")
    def _steps(self) -> PatternStyle:
        if set(self.variants) != {"sparse", "main", "busy"}:
            raise ValueError("a pattern style needs sparse, main and busy variants")
        for level, text in self.variants.items():
            _check_steps(level, text, self.steps, "R3578aXx-.")
            if text[0] == "-":
                raise ValueError(f"{level}: a bar cannot start by holding a note")
        return self


class LeadStyle(Table):
    density: Unit
    """Probability that a rhythm-cell onset sounds."""
    cells: Annotated[list[str], Field(min_length=1)]
    """One-bar 16-step rhythm cells ("x" onset, "-" hold, "." rest) motifs are built from."""
    motif_bars: Literal[1, 2] = 2
    leap: Annotated[int, Field(ge=1, le=7)] = 3
    """Largest melodic step in scale degrees."""
    sung: bool = False
    """A sung-like line (ballad, soul, pop): it breathes between phrases, as a singer must."""

    @model_validator(mode="after")
    def _cells(self) -> LeadStyle:
        for cell in self.cells:
            _check_steps("cell", cell, 16, "x-.")
            if cell[0] == "-":
                raise ValueError(f"cell {cell!r} cannot start by holding a note")
        return self


class PartTables(Table):
    parts: dict[Part, PartSpec]
    drums: DrumTables
    bass: dict[str, PatternStyle]
    comping: dict[str, PatternStyle]
    lead: dict[str, LeadStyle]


# --- sound (MPC Beats catalog) ------------------------------------------------------------------------


class CatalogPreset(Table):
    name: str
    category: str
    source: str


class CatalogInstrument(Table):
    name: str
    kind: Literal["plugin", "drum-kit", "expansion"]
    categories: list[str]
    """What it is good for: drum-kit, bass, keys, pad, lead, pluck, ..."""
    description: str
    source: str
    """Where it is documented as shipping with MPC Beats."""
    presets: list[CatalogPreset] = []
    """Only presets whose names are documented by the source."""


class CatalogEffect(Table):
    name: str
    category: str
    """delay, reverb, eq, compressor, saturation, filter, chorus, ..."""
    description: str
    source: str


class CatalogTables(Table):
    version: str
    """MPC Beats version the catalog describes."""
    instruments: list[CatalogInstrument]
    effects: list[CatalogEffect]


class ParamSpec(Table):
    name: str
    value: float | None = None
    unit: str = ""
    sync: str | None = None
    """A note value ("1/8", "1/8 dotted", "1/4 triplet", "1/64") for tempo-derived times in ms."""

    @model_validator(mode="after")
    def _one_value(self) -> ParamSpec:
        if (self.value is None) == (self.sync is None):
            raise ValueError(f"{self.name}: give exactly one of value or sync")
        return self


class SlotSpec(Table):
    effect: str
    """An effect category of the catalog; the first catalog effect of that category is used."""
    purpose: str
    params: list[ParamSpec] = []


class SoundRule(Table):
    families: list[str]
    """Genre families (or genre keys) the rule applies to; ["*"] for all."""
    part: Part
    categories: list[str]
    """Catalog categories to look for, best first."""
    chain: list[SlotSpec]


class SoundTables(Table):
    rules: list[SoundRule]


# --- refinement ---------------------------------------------------------------------------------------


ChangeKind = Literal[
    "density", "color", "mix", "mute", "remove", "add", "keep", "length", "double", "tempo_rel", "swing", "halftime",
    "energy", "boring", "alternative", "choose",
]


class ChangeWords(Table):
    words: Annotated[list[str], Field(min_length=1)]
    kind: ChangeKind
    amount: float = 0.0
    value: float | None = None
    """For ``swing``: the value it sets (instead of moving by ``amount``)."""
    mix: str | None = None
    """For ``mix`` changes: a key of [mix]."""


class LaneWords(Table):
    words: Annotated[list[str], Field(min_length=1)]
    lanes: Annotated[list[str], Field(min_length=1)]
    """Lanes of config/drums.toml [gm]."""


class SectionWords(Table):
    words: Annotated[list[str], Field(min_length=1)]
    peers: list[str] = []
    """Kinds that stand in for this one in a song that has none of it."""


class GrammarWords(Table):
    not_parts: list[str]
    """Instruments backbeat has no part for."""
    chat: list[str]
    """Chat words: never corrected, never reported as not understood."""
    fillers: list[str]
    """Words that carry no change."""
    steer: list[str]
    """Words that make a genre named nearby a change of genre."""


class CommandWords(Table):
    jump: list[str]
    next: list[str]
    stop: list[str]
    play: list[str]
    undo: list[str]
    redo: list[str]
    revert: list[str]


class Nudge(Table):
    category: str
    """An effect category of the catalog."""
    param: str
    scale: float | None = None
    add: float | None = None
    max: float = 1e9

    @model_validator(mode="after")
    def _one(self) -> Nudge:
        if (self.scale is None) == (self.add is None):
            raise ValueError(f"{self.category}.{self.param}: give exactly one of scale or add")
        return self


class MixChange(Table):
    description: str
    nudges: list[Nudge]


class RefineTables(Table):
    sensitivity: dict[str, list[str]]
    """Part (or presets/effects) -> the dimensions whose change regenerates it."""
    parts: dict[Part, list[str]]
    lanes: dict[str, LaneWords]
    sections: dict[str, SectionWords]
    spellings: dict[str, str]
    """Informal spellings and homophones -> the word they stand for."""
    words: GrammarWords
    degrees: dict[str, float]
    """Degree words ("a bit", "way") -> the factor they scale a change by."""
    genre_forms: dict[str, str]
    """Words that steer toward a genre by themselves ("jazzier") -> a genre key."""
    commands: CommandWords
    changes: dict[str, ChangeWords]
    targets: dict[str, list[str]]
    mix: dict[str, MixChange]
    brightness: dict[str, float]
    """Interval above the root (semitones, as a string key) -> how bright it sounds."""
    modes_by_brightness: list[str]
    """Diatonic modes, brightest first."""
