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


def _check_digits(where: str, text: str) -> None:
    if len(text) != 16 or not text.isdigit():
        raise ValueError(f"{where}: {text!r} must be 16 digits, one per 16th of the bar")


class FeelSpec(Table):
    """How a genre's parts sit in time: swing, micro-timing, accents, the bass's lock to the kick."""

    swing: Annotated[float, Field(ge=0.5, le=0.75)] = 0.5
    """Where the off-beat of each pair of grid steps falls: 0.5 straight, 0.667 triplet swing."""
    grid: Literal[8, 16] = 16
    """The note value that swings: 8 (swung eighths, jazz) or 16 (swung sixteenths, MPC swing)."""
    human_ms: Annotated[float, Field(ge=0.0, le=20.0)] = 0.0
    """Standard deviation of each onset's timing in milliseconds (0: quantized, as programmed)."""
    lag_ms: dict[str, float] = {}
    """A part ("bass", "chords", "lead", "drums") or drum lane ("snare") -> how far behind the beat
    it sits in milliseconds (negative: pushed ahead)."""
    strum_ms: Annotated[float, Field(ge=0.0, le=40.0)] = 0.0
    """Time from a chord's lowest to its highest voice (a guitar strum; 0 for keys)."""
    lock: bool = False
    """The bass (an 808) plays with the kick, as trap, drill and boom bap do."""
    hat_accent: str = "9353935393539353"
    """Velocity shape of hats, shakers and rides per 16th: each digit adds (digit - 5) x 4."""
    accent: str = "8555655565556555"
    """Velocity shape of bass and comping per 16th, the same way."""

    @model_validator(mode="after")
    def _shapes(self) -> FeelSpec:
        _check_digits("hat_accent", self.hat_accent)
        _check_digits("accent", self.accent)
        return self


class HarmonySpec(Table):
    """How far a genre's harmony strays from its scale (``generators.colour``)."""

    colour: dict[Literal["secondary", "passing-dim", "tritone", "approach", "blues"], Unit] = {}
    """Device -> chance per place it fits."""
    budget: Annotated[float, Field(ge=0.0, le=0.3)] = 0.0
    """Largest share of out-of-scale chord tones (weighted by length) the colour may bring."""


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
    feel: FeelSpec = FeelSpec()
    harmony: HarmonySpec = HarmonySpec()
    arrangements: list[str] = []
    """Other arrangement templates within the genre's conventions; the seed picks among all."""
    programs: dict[Literal["bass", "chords", "lead"], Annotated[int, Field(ge=0, le=127)]] = {}
    """General MIDI program (0-based) each melodic part previews with in a .mid file."""

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
    role: Literal["loop", "bridge"] = "loop"
    """A song's loop, or a bridge played against one."""

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
    harmony: Literal["main", "first-half", "second-half", "tonic", "reverse", "bridge"] = "main"
    """Which part of the chord loop the section plays ("bridge": the progression's bridge chords)."""
    chance: Unit = 1.0
    """Chance that the section is in the song (the seed decides), unless the prompt names the form."""


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
    """Chance per bar, scaled by the rhythmic dial, of a hi-hat roll (ratchet)."""
    roll_kinds: list[str] = []
    """Keys of the rolls table this style draws from (32nds, 16th triplets, ...)."""
    roll_lane: str = "hat"
    """The lane rolls are played on (a ride in techno, a shaker in deep house)."""
    roll_beats: list[Annotated[int, Field(ge=0, le=3)]] = [1, 2, 3]
    """Zero-based beats of the bar a roll may start on (or on their off-beat)."""
    vary: Unit = 0.5
    """Chance, twice per bar, that a hat or percussion lane gains or loses one hit (ad-libs)."""
    keep: list[str] = []
    """Lanes no ad-lib touches: a clave is the rhythm's key, not a place to improvise."""
    flams: Unit = 0.0
    """Chance per bar that the backbeat (clap, snare or rim) is flammed: a soft grace hit a 32nd
    triplet before each stroke."""
    ghosts: Unit = 0.6
    """Chance per bar, scaled by the rhythmic dial, of ghost snares on empty off-beats."""
    turn: dict[str, str] = {}
    """Lanes laid over the last bar of each 4-bar phrase (a turnaround: a kick pickup, an open hat)."""
    fill_chance: Unit = 0.5
    """Chance of a fill into a section that does not rise in energy (a rise always gets one)."""
    crash: bool = True
    """Whether a rise in energy is marked with a crash on its downbeat."""

    @model_validator(mode="after")
    def _steps(self) -> DrumStyle:
        for level, lanes in self.variants.items():
            for lane, text in lanes.items():
                _check_steps(f"{level}.{lane}", text, self.steps, "Xxo.")
        for lane, text in self.halftime.items():
            _check_steps(f"halftime.{lane}", text, self.steps, "Xxo.")
        for lane, text in self.turn.items():
            _check_steps(f"turn.{lane}", text, self.steps, "Xxo.")
        if set(self.variants) != {"sparse", "main", "busy"}:
            raise ValueError("a drum style needs sparse, main and busy variants")
        return self


class DrumFill(Table):
    steps: Literal[12, 16, 24, 32] = 16
    lanes: dict[str, str]
    """Step strings for the last bar of a section; "." leaves the groove's own hit."""
    clear: list[str] = []
    """Groove lanes silenced while the fill plays ("*": every lane)."""
    clear_from: Annotated[int, Field(ge=0, le=31)] | None = None
    """Step from which the ``clear`` lanes are silenced (default: the fill's first hit)."""
    pickup: bool = False
    """The fill stands alone: drums that sat the section out can enter with it on its last bar."""
    transitions: list[Transition] = []
    """Transitions the fill suits (empty: any)."""
    lift: bool = True
    """Strong enough to lead into a section of higher energy (a lone open hat is not)."""
    roll: str = ""
    """A roll kind of the rolls table played on the hats from ``roll_from`` to the end of the bar."""
    roll_from: Annotated[int, Field(ge=0, le=31)] = 8

    @model_validator(mode="after")
    def _steps(self) -> DrumFill:
        for lane, text in self.lanes.items():
            _check_steps(lane, text, self.steps, "Xxo.")
        return self


class RollKind(Table):
    spacing: Annotated[int, Field(ge=10, le=119)]
    """Ticks between the hits of a roll (60: 32nds, 80: 16th triplets, 40: 32nd triplets)."""


class DrumTables(Table):
    gm: dict[str, Annotated[int, Field(ge=27, le=87)]]
    """Lane name -> General MIDI percussion note (channel 10)."""
    styles: dict[str, DrumStyle]
    fills: dict[str, DrumFill]
    rolls: dict[str, RollKind] = {}


BASS_ROLES = "R3578acw"
"""Bass roles: R root (or slash bass), 3/5/7 chord tones, 8 root an octave up, a scale step into the
next chord, c a semitone into it, w a walking step toward it."""


class PatternStyle(Table):
    """A bass or comping style: step strings per density level."""

    steps: Literal[12, 16, 24, 32] = 16
    variants: dict[Level, str]
    """Bass: one of ``BASS_ROLES`` per step, "-" hold, "." rest.
    Comping: X accent, x hit, "-" hold, "." rest."""
    gate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.9
    """Fraction of a note's written length that sounds (legato 1.0, staccato 0.5)."""
    arp: Literal["none", "up", "updown"] = "none"
    """Comping only: play one chord tone per onset, cycling, instead of the whole chord."""
    approach: str = ""
    """Bass only: the role played on the last eighth of each 4-bar phrase (a walk into the next)."""
    anticipate: Unit = 0.0
    """Comping only: chance that a repeated section strikes a chord change an eighth early."""
    vary: Unit = 0.15
    """Comping only: chance per bar of playing another density level's rhythm (a player varying
    the comp from bar to bar)."""
    lock_roles: str = ""
    """Bass only: roles drawn for the notes played on the kick where the genre locks bass to kick
    (empty: the style never locks)."""

    @model_validator(mode="after")
    def _steps(self) -> PatternStyle:
        if set(self.variants) != {"sparse", "main", "busy"}:
            raise ValueError("a pattern style needs sparse, main and busy variants")
        for level, text in self.variants.items():
            _check_steps(level, text, self.steps, BASS_ROLES + "Xx-.")
            if text[0] == "-":
                raise ValueError(f"{level}: a bar cannot start by holding a note")
        if set(self.approach + self.lock_roles) - set(BASS_ROLES):
            raise ValueError(f"approach and lock_roles take bass roles ({BASS_ROLES})")
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
    phrase_bars: Literal[2, 4] = 4
    """Bars per phrase (of the lead's own bar: two clock bars in half time)."""

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
