"""The song as validated values: what every stage takes and gives, and what ``song-state.json`` holds.

Every model is frozen, forbids unknown fields and speaks the seed's camelCase on the wire
(``model_dump(by_alias=True)`` happens by default through ``serialize_by_alias``); Python code uses
snake_case names. A stage never mutates a model: it returns a new one (``model_copy(update=...)``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from .names import PARTS as PARTS, Part as Part  # re-exported: the song's parts

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
MidiNumber = Annotated[int, Field(ge=0, le=127)]
Velocity = Annotated[int, Field(ge=1, le=127)]

GroupRole = Literal["rhythm", "harmony", "melody"]
Confidence = Literal["explicit", "inferred"]
Arc = Literal["building", "steady", "declining", "wave", "custom"]
Transition = Literal["cut", "fade", "build", "breakdown", "drop", "filter_sweep"]
Source = Literal["draft", "algorithmic", "llm", "cache", "fallback", "budget"]
Output = Literal["progression", "midi", "presets", "effects", "arrangement", "playback"]
OUTPUTS: tuple[Output, ...] = ("progression", "midi", "presets", "effects", "arrangement", "playback")
NoteName = Literal[
    "C", "C#", "Db", "D", "D#", "Eb", "E", "F", "F#", "Gb", "G", "G#", "Ab", "A", "A#", "Bb", "B",
    "Cb", "Fb", "E#", "B#",
]
"""A note name as a key signature spells it (Cb in Gb major, E# in F# major)."""


class Model(BaseModel):
    """Base of every backbeat value: frozen, strict about fields, camelCase on the wire."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
    )


# --- intent (seed task 6.1) -------------------------------------------------------------------


class GenreDNA(Model):
    """A genre as a point in a space of musical traits, each 0..1; blends interpolate linearly."""

    harmonic_complexity: Unit
    """0 = triads and power chords, 1 = dense extensions and alterations."""
    minor_bias: Unit
    """How strongly the genre leans to minor and dark modes."""
    modal_color: Unit
    """0 = functional cadences (ii-V-I), 1 = static modal vamps."""
    swing: Unit
    """0 = straight sixteenths, 1 = heavy shuffle."""
    syncopation: Unit
    """Off-beat accents in drums and bass."""
    drum_density: Unit
    """Hits per bar, relative to the genre family."""
    bass_density: Unit
    """Notes per bar in the bass."""
    melodic_density: Unit
    """Notes per bar in the lead."""
    energy: Unit
    """Overall intensity."""
    brightness: Unit
    """Timbral brightness: 0 dark and filtered, 1 bright and open."""
    space: Unit
    """Reverb and ambience."""
    grit: Unit
    """Saturation, lo-fi texture, vinyl."""
    repetition: Unit
    """0 = through-composed, 1 = loop-based."""

    @staticmethod
    def blend(vectors: list[GenreDNA], weights: list[float]) -> GenreDNA:
        """The weighted mean of ``vectors`` (weights need not sum to 1)."""
        total = sum(weights)
        if not vectors or total <= 0:
            raise ValueError("blend needs at least one vector with positive weight")
        fields = GenreDNA.model_fields
        return GenreDNA(
            **{
                name: round(sum(getattr(v, name) * w for v, w in zip(vectors, weights)) / total, 4)
                for name in fields
            }
        )


class ArtistInfluence(Model):
    """One artist or genre named in the prompt, and how much it weighs in the blend."""

    name: str
    """The artist (or genre) as recognised, canonical spelling."""
    traits: list[str]
    """What this influence brings, e.g. "neo-soul harmony", "lush reverbs", "60-75 BPM"."""
    genre_mapping: str
    """Key of the genre table this influence maps to."""
    weight: Unit
    """Share of the blend; all influences' weights sum to 1."""


class GenreBlend(Model):
    """The genre of the song: a primary, maybe a secondary, and the interpolated DNA."""

    primary: str
    """Genre table key with the largest weight."""
    secondary: str | None = None
    """Second genre of the blend, if any."""
    blend_weights: tuple[Unit, Unit]
    """Weights of primary and secondary (the second is 0 when there is no secondary)."""
    dna_vector: GenreDNA
    """The blended DNA every generator reads."""


class Tempo(Model):
    bpm: Annotated[float, Field(ge=20, le=300)]
    """Clock tempo in quarter notes per minute (what the DAW and MIDI clock run at)."""
    confidence: Confidence
    """Whether the prompt stated the tempo or backbeat inferred it."""
    half_time: bool
    """Drums and harmony feel half as fast as the clock (e.g. 130 clock felt at 65)."""


class Key(Model):
    root: NoteName
    """Tonic, spelled as the key signature spells it (Eb, not D#, for Eb minor)."""
    mode: str
    """A scale name from config/scales.toml: major, minor, dorian, ..."""
    confidence: Confidence
    """Whether the prompt stated the key or backbeat inferred it."""

    def label(self) -> str:
        return f"{self.root} {self.mode}"


class Duration(Model):
    total_bars: Annotated[int, Field(ge=1, le=1024)]
    """Length of the whole song in bars."""
    sections: list[str]
    """Section names the prompt asked for, in order; empty means the genre template decides."""


class Energy(Model):
    overall: Unit
    """Average intensity of the song."""
    arc: Arc
    """How intensity develops across sections."""


class CreativityDials(Model):
    harmonic: Unit
    """0 = the most expected chords, 1 = substitutions and borrowed colour."""
    rhythmic: Unit
    """0 = the genre's stock patterns, 1 = displaced, syncopated, varied."""


class PipelineIntent(Model):
    """Structured creative constraints decomposed from one prompt (seed task 6.1)."""

    prompt: str
    """The prompt as the user typed it."""
    influences: list[ArtistInfluence]
    mood: list[str]
    """Mood words recognised, e.g. ["late-night", "melancholy", "atmospheric"]."""
    genre: GenreBlend
    tempo: Tempo
    key: Key
    duration: Duration
    energy: Energy
    creativity_dials: CreativityDials
    requested_outputs: list[Output]
    ambiguities: list[str]
    """Questions a producer should answer; the pipeline proceeds on the stated default."""


# --- harmony -------------------------------------------------------------------------------------


class Chord(Model):
    symbol: str
    """Chord symbol as a producer reads it: "Ebm9", "Dbmaj7/F"."""
    root: NoteName
    quality: str
    """A quality key of config/theory.toml, e.g. "m9", "maj7", "7", ""."""
    bass: NoteName | None = None
    """Slash bass when it differs from the root."""
    degree: str
    """Roman numeral in the key, e.g. "i9", "bVI", "V7/V"."""
    beats: Annotated[int, Field(ge=1, le=32)]
    """How long the chord lasts in beats of the song's meter."""
    notes: list[MidiNumber]
    """The voicing, lowest first: bass note then voice-led upper structure (as MPC pads store it)."""

    @model_validator(mode="after")
    def _voicing_sorted(self) -> Chord:
        if not self.notes or self.notes != sorted(set(self.notes)):
            raise ValueError(f"chord {self.symbol}: notes must be distinct and ascending")
        return self


class Progression(Model):
    """The song's chord loop (the MPC Beats ``.progression`` holds exactly these chords)."""

    name: str
    key: Key
    chords: Annotated[list[Chord], Field(min_length=1, max_length=16)]
    """At most 16 chords: the 4x4 pads of an MPC."""
    style: str
    """Which template family produced it: "functional", "modal", ..."""
    template: str = ""
    """Name of the progression template in config/progressions.toml ("" when not from one)."""
    degrees: list[str] = []
    """Scale degree of each chord ("1", "b6"): what a key change keeps."""
    bridge: Annotated[int, Field(ge=0, le=15)] = 0
    """How many of the last chords are the bridge's own progression; the loop is the rest."""

    def symbols(self) -> list[str]:
        return [c.symbol for c in self.chords]


# --- arrangement (seed task 6.3) ----------------------------------------------------------------


class Meter(Model):
    numerator: Annotated[int, Field(ge=1, le=32)] = 4
    denominator: Literal[1, 2, 4, 8, 16, 32] = 4


class Section(Model):
    name: str
    """Display name, unique within the song: "intro", "verse 1", "chorus 2"."""
    kind: str
    """Section type from config/arrangements.toml: intro, verse, chorus, drop, ..."""
    bars: Annotated[int, Field(ge=1, le=1024)]
    energy: Unit
    transition: Transition
    """How this section hands over to the next one."""
    active_tracks: list[Part]
    """Parts that play in this section."""
    chord_order: Annotated[list[int], Field(min_length=1)]
    """Indices into the progression, played in order and looped to fill the section."""
    enters: dict[Part, Annotated[int, Field(ge=0)]] = {}
    """Bar of the section (zero-based) at which a part comes in; a part not named plays from the
    start. Drums entering on the last bar play a pickup fill into the next section."""


class Arrangement(Model):
    meter: Meter = Meter()
    sections: Annotated[list[Section], Field(min_length=1)]
    template: str
    """Template key of config/arrangements.toml this arrangement was fitted from."""

    @property
    def total_bars(self) -> int:
        return sum(s.bars for s in self.sections)

    def start_bars(self) -> list[int]:
        """First bar (zero-based) of every section."""
        starts, bar = [], 0
        for s in self.sections:
            starts.append(bar)
            bar += s.bars
        return starts

    def section_at(self, bar: int) -> int:
        """Index of the section that contains zero-based ``bar``."""
        for i, start in enumerate(self.start_bars()):
            if start <= bar < start + self.sections[i].bars:
                return i
        raise IndexError(f"bar {bar} is beyond the song's {self.total_bars} bars")

    @model_validator(mode="after")
    def _names_unique(self) -> Arrangement:
        names = [s.name for s in self.sections]
        if len(names) != len(set(names)):
            raise ValueError(f"section names must be unique: {names}")
        return self


# --- parts: Track > Clip ---------------------------------------------------------------------------


class Note(Model):
    """One note of a clip; ``tick`` counts from the clip's first bar at 480 PPQ."""

    tick: Annotated[int, Field(ge=0)]
    duration: Annotated[int, Field(ge=1)]
    pitch: MidiNumber
    velocity: Velocity


class Clip(Model):
    """One track's content for one section."""

    section: Annotated[int, Field(ge=0)]
    """Index of the section in the arrangement."""
    start_bar: Annotated[int, Field(ge=0)]
    bars: Annotated[int, Field(ge=1)]
    notes: list[Note]
    """Sorted by tick; every note ends within the clip."""
    source: Source = "algorithmic"
    """Which backend produced this clip."""
    version: Annotated[int, Field(ge=1)] = 1
    """Bumped every time the clip is regenerated."""


class PresetChoice(Model):
    """An MPC Beats instrument for a track, taken from config/mpc_beats.toml."""

    instrument: str
    """Plugin or kit as MPC Beats names it."""
    preset: str | None = None
    """A preset name only where the catalog lists one with its source; never invented."""
    category: str
    """Catalog category: drum-kit, bass, keys, pad, lead, ..."""
    reason: str
    """Why this choice fits the song."""
    source: str
    """Where the catalog entry comes from (manual page, product page)."""


class EffectParam(Model):
    name: str
    value: float
    unit: str
    """ms, %, dB, Hz, s, ratio or "" for a plain number."""
    synced_to: str | None = None
    """Note value a time-based parameter follows ("1/8 dotted"); recomputed when the tempo changes."""


class EffectSlot(Model):
    effect: str
    """Effect as MPC Beats names it, from config/mpc_beats.toml."""
    purpose: str
    params: list[EffectParam]
    source: str


class PartParams(Model):
    """How a part was generated: with these and the song, generating it again gives the same notes."""

    style: str | None = None
    """Style key (drums.toml / patterns.toml); None: the genre's own."""
    density: Unit | None = None
    """Notes per bar, 0..1; None: the genre DNA's."""
    creativity: Unit | None = None
    """The rhythmic dial for this part; None: the song's."""
    seed: int = 0
    """Added to the song seed: a new version of the part has a new offset."""


class Track(Model):
    """One part of the song: its channel, its sound, and one clip per section it plays in."""

    name: str
    part: Part
    group: GroupRole
    channel: Annotated[int, Field(ge=1, le=16)]
    """MIDI channel, one-based as producers count (drums are 10)."""
    clips: list[Clip]
    preset: PresetChoice | None = None
    effects: list[EffectSlot] = []
    muted: bool = False
    silenced: list[str] = []
    """Drum lanes (config/drums.toml [gm]) a refinement took out ("drop the hats"); they stay out
    when the part is generated again."""
    params: PartParams = PartParams()
    """What the part was generated with (refinements change these, then regenerate)."""


# --- context hierarchy (DESIGN.md §4) ------------------------------------------------------------


class ProjectContext(Model):
    """The song as a whole: the top of every LLM prompt."""

    prompt: str
    genre: str
    key: str
    tempo: float
    meter: str
    mood: list[str]
    sections: list[str]


class GroupContext(Model):
    """Tracks that share a role (rhythm, harmony, melody)."""

    role: GroupRole
    tracks: list[str]


class TrackContext(Model):
    """One track: its instrument and channel."""

    name: str
    part: Part
    channel: int
    instrument: str | None = None


class ClipContext(Model):
    """One track's content for one section: what a generator is asked to write."""

    track: str
    section: str
    bars: int
    energy: float
    chords: list[str]
    """Chord symbols of the section, one entry per chord change, in order."""


# --- history, state, manifest ---------------------------------------------------------------------


class HistoryEntry(Model):
    at: str
    """ISO-8601 time of the change."""
    action: str
    """What was done: "generate", "refine", "choose", "undo", ..."""
    request: str
    """The user's words, or the command that caused the change."""
    targets: list[str]
    """Which parts of the song changed (progression, bass, tempo, ...)."""
    files: list[str]
    """Session files rewritten by the change, relative to the session folder."""
    snapshot: str | None = None
    """The song as it was before this change (relative path), for undo and revert."""


class Alternative(Model):
    """One variant of a part, kept so a producer can compare, choose, and come back (seed 6.7)."""

    label: str
    """A, B, C, ... in the order they were made."""
    approach: str
    """best-match, more-creative, different-structure, ..."""
    description: str
    """One sentence a producer reads to choose."""
    score: float
    """Heuristic fit, 0..1 (in key, on the chord changes, density near the genre's)."""
    track: Track
    chosen: bool = False


class SongState(Model):
    """Everything about one song; ``song-state.json`` is this, in camelCase."""

    schema_version: Literal[1] = 1
    session_id: str
    seed: int
    intent: PipelineIntent
    progression: Progression
    arrangement: Arrangement
    tracks: list[Track]
    history: list[HistoryEntry] = []
    alternatives: dict[Part, list[Alternative]] = {}
    """Variants made for each part (chosen or not), newest last."""
    drum_map: str = "gm"
    """The drum map (config/drum_maps) the session's MIDI files are written for; drum notes in
    ``tracks`` stay General MIDI numbers (the roles) whatever the map."""

    def track(self, part: Part) -> Track:
        for t in self.tracks:
            if t.part == part:
                return t
        raise KeyError(part)

    @property
    def bpm(self) -> float:
        return self.intent.tempo.bpm


class FileEntry(Model):
    path: str
    """Relative to the session folder, with forward slashes."""
    type: str
    """progression, midi, state, notes, manifest."""
    description: str


class StageRecord(Model):
    stage: str
    duration_ms: float
    """Time the stage worked (for a model's stage: at the server, not waiting for a free slot)."""
    source: Source = "algorithmic"
    """budget: the model's time budget ran out, so the algorithmic stage did the work."""
    attempts: Annotated[int, Field(ge=1)] = 1
    queued_ms: Annotated[float, Field(ge=0)] = 0.0
    """Time its requests waited for a free slot behind other requests (apart from ``duration_ms``)."""
    detail: str | None = None
    """What the progress line says about the sources, when one word would not be true
    ("16 of 24 clips from the model")."""


class SessionManifest(Model):
    """What a session folder holds (seed task 6.4)."""

    session_id: str
    created_at: str
    prompt: str
    genre: str
    key: str
    tempo: float
    files: list[FileEntry]
    stage_timings: list[StageRecord]
