"""What the model is asked for: one small, explicit answer model per stage, sent as ``response_format``.

These are not backbeat's own models (``generators.model``): they are what a language model can write
reliably, and they are deliberately lenient. Ranges are not constrained here (a pitch of 130 or a
velocity of 0 validates) and unknown keys are ignored (``extra="ignore"``), because such answers are
better repaired (``repair``) than sent back for a round-trip: strictness here would only turn a
clamp into a second request. Names the model must take from a list (catalog instruments and effects,
question kinds) are enums in the schema, built from ``config/`` when first asked for.

The schema's name (``response_format.json_schema.name``) is the class name: it tells a reader of the
wire, and the simulated model of ``benchmarks/fake_llm.py``, which stage is asking.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, create_model

from backbeat.generators.names import Part
from backbeat.generators.tables import tables


class Answer(BaseModel):
    """Base of every answer model: frozen, unknown keys ignored (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)


# --- stage 1: intent -----------------------------------------------------------------------------


class ArtistAnswer(Answer):
    name: str
    """The artist as the prompt names them (canonical spelling if you know it)."""
    genre: str | None = None
    """The genre the artist is best known for, e.g. "uk garage", "neo soul"."""


class IntentAnswer(Answer):
    """The entities a prompt names; only what it states or clearly implies."""

    artists: list[ArtistAnswer] = []
    """Artists named, in the order the prompt names them."""
    genres: list[str] = []
    """Genres or styles named, in order."""
    moods: list[str] = []
    """Mood words: "dark", "late-night", "uplifting", ..."""
    tempo_bpm: float | None = None
    """Only if the prompt states a tempo."""
    key: str | None = None
    """Only if the prompt states a key or mode, e.g. "Eb minor", "dorian"."""
    bars: int | None = None
    """Only if the prompt states a length in bars."""
    sections: list[str] = []
    """Only if the prompt lists a form, e.g. ["intro", "verse", "chorus", "outro"]."""
    half_time: bool = False
    """The prompt asks for a half-time feel."""
    outputs: list[str] = []
    """Outputs the prompt asks for beyond the usual: "playback", ..."""


# --- stage 2: harmony -----------------------------------------------------------------------------


class ChordAnswer(Answer):
    symbol: str | None = None
    """Chord symbol: root, quality, optional slash bass, e.g. "Ebm9", "Cbmaj7", "Db/F"."""
    degree: str | None = None
    """Roman numeral in the key, e.g. "i9", "bVImaj7", "iv7", "V"."""
    beats: float = 4
    """Length in beats (quarter notes at the song's tempo)."""


class HarmonyAnswer(Answer):
    """A chord loop in the song's key."""

    name: str = ""
    """A short name for the progression."""
    chords: list[ChordAnswer]
    """At most 16 chords, in playing order."""
    bridge: int = 0
    """How many of the last chords are a bridge progression of their own (0: none)."""


# --- stage 3: arrangement ---------------------------------------------------------------------------


class SectionAnswer(Answer):
    kind: str
    """intro, verse, pre, chorus, drop, hook, build, break, bridge, solo, groove, head or outro."""
    bars: int
    energy: float = 0.5
    """0 (near silence) to 1 (everything at full tilt)."""
    transition: str = "cut"
    """How the section hands over: cut, fade, build, breakdown, drop or filter_sweep."""
    tracks: list[str] = []
    """Parts that play: drums, bass, chords, lead."""
    harmony: str = "main"
    """Which part of the chord loop: main, first-half, second-half, tonic, reverse or bridge."""


class ArrangementAnswer(Answer):
    """The song's sections in order."""

    sections: list[SectionAnswer]


# --- stage 4: parts ------------------------------------------------------------------------------------


class NoteAnswer(Answer):
    beat: float
    """Beat of the bar the note starts on, from 1 (1.5 is the "and" of beat 1)."""
    tick: int = 0
    """Optional fine offset after ``beat`` in ticks at 480 per beat (swing, flams)."""
    pitch: int | str
    """MIDI note number; for drums a General MIDI note or a lane name ("kick", "snare", "hat")."""
    vel: int | None = None
    """Velocity 1-127."""
    len: float | None = None
    """Length in beats."""


class BarAnswer(Answer):
    bar: int
    """Bar of the clip, from 1."""
    notes: list[NoteAnswer] = []


class ClipAnswer(Answer):
    """One part's notes for one section, bar by bar (each finished bar can play at once)."""

    bars: list[BarAnswer]


class HexClipAnswer(Answer):
    """One part's notes for one section as a Standard MIDI File, hex-encoded (the seed's mode)."""

    midi: str
    """The bytes of a MIDI file as hex digits, starting 4d546864 ("MThd")."""


# --- stages 5 and 6: sound -----------------------------------------------------------------------------


class ParamAnswer(Answer):
    name: str
    value: float
    unit: str = ""
    """ms, %, dB, Hz, s, ratio or "" for a plain number."""
    synced_to: str | None = None
    """For a time that follows the tempo: a note value such as "1/8", "1/8 dotted", "1/4 triplet"."""


class PresetPickBase(Answer):
    part: str
    """drums, bass, chords or lead."""
    reason: str = ""
    """Why this sound fits the song, in one sentence."""


class EffectPickBase(Answer):
    purpose: str = ""
    params: list[ParamAnswer] = []


def _names(values: list[str]) -> type:
    return Literal[tuple(dict.fromkeys(values))]  # type: ignore[return-value]


@cache
def preset_answer() -> type[Answer]:
    """``PresetAnswer``: an instrument (and optionally a documented preset) per part, from the catalog only."""
    catalog = tables().catalog
    presets = [p.name for i in catalog.instruments for p in i.presets]
    fields: dict = {"instrument": (_names([i.name for i in catalog.instruments]), ...)}
    if presets:  # without documented presets the field is left out, so nothing can be invented
        fields["preset"] = (_names(presets) | None, None)
    pick = create_model("PresetPick", __base__=PresetPickBase, **fields)
    return create_model("PresetAnswer", __base__=Answer, tracks=(list[pick], ...))


@cache
def effect_answer() -> type[Answer]:
    """``EffectAnswer``: an insert chain per part, every effect from the catalog only."""
    pick = create_model(
        "EffectPick", __base__=EffectPickBase, effect=(_names([e.name for e in tables().catalog.effects]), ...)
    )
    chain = create_model("ChainAnswer", __base__=Answer, part=(str, ...), effects=(list[pick], []))
    return create_model("EffectAnswer", __base__=Answer, chains=(list[chain], ...))


# --- routing (seed 6.8) ---------------------------------------------------------------------------------


@cache
def route_answer(questions: tuple[str, ...]) -> type[Answer]:
    """``RouteAnswer``: is a request a question about the song (which), a composition, or a refinement?"""
    return create_model(
        "RouteAnswer",
        __base__=Answer,
        kind=(Literal["question", "compose", "refine"], ...),
        question=(_names(list(questions)) | None, None),
        bar=(int | None, None),
        part=(str | None, None),
    )


# --- refinement (a change the patterns did not recognise) ----------------------------------------


class ChangeAnswer(Answer):
    """One change to the song now playing."""

    kind: Literal["density", "color", "mix", "mute", "length", "tempo", "tempo_rel", "swing", "halftime", "energy", "genre", "key", "alternative"]
    """density: a part's notes per bar; color: darker/brighter (a chord, the key, or the mix); mix: the
    sound (warm, bright, wet, dry); mute: take a part out or bring it back; length: a section longer or
    shorter; tempo: a new BPM; tempo_rel: faster/slower; swing: more or less; halftime: on/off;
    energy: more or less (a section or the song); genre: toward a genre; key: a new key;
    alternative: something different for a part."""
    direction: float = 1.0
    """+1 for more, busier, brighter, longer, faster, on; -1 for less, simpler, darker, shorter, off."""
    part: Part | None = None
    chord: int | None = None
    """1-based chord number in the progression; -1 the last."""
    section: str | None = None
    """A section's name as listed."""
    target: Literal["chord", "key", "mix"] | None = None
    mix: Literal["warm", "bright", "wet", "dry"] | None = None
    bpm: float | None = None
    key: str | None = None
    """e.g. "D minor", "F# dorian"."""
    genre: str | None = None


class RefineAnswer(Answer):
    """The changes a producer's request asks for, or a question when it is unclear."""

    changes: list[ChangeAnswer] = []
    question: str | None = None
    """Ask this instead of changing anything when the request is ambiguous."""
