"""What the model is told: one system prompt per stage, and the user prompt rendered from the
Project ▸ Group ▸ Track ▸ Clip context (``generators.context``) plus the facts the stage needs.

Context levels are rendered as ``Label: {json}`` lines (the validated models, in the song's wire
names), one per level, so the model reads the same structure at every stage and a test server can
read it back. Facts come from the tables: the qualities backbeat knows, the section kinds, the drum
lanes, the MPC Beats catalog. Every system prompt ends with the output rule; the JSON schema itself
travels as ``response_format``, but it is also described here because some local servers ignore it.
"""

from __future__ import annotations

import json

from backbeat.engine.time import PPQ

from backbeat.generators import context
from backbeat.generators.grid import SectionGrid
from backbeat.generators.model import Model, Part, PipelineIntent, SongState
from backbeat.generators.tables import tables
from backbeat.generators.theory import note_name, scale_of

OUTPUT_RULE = (
    "Answer with exactly one JSON object that matches the given schema: no prose, no Markdown, "
    "no code fences, no comments."
)
LABELS = {"ProjectContext": "Project", "GroupContext": "Group", "TrackContext": "Track", "ClipContext": "Clip"}


def _system(role: str, *rules: str) -> str:
    return "\n".join([f"You are {role} inside backbeat, a composer whose songs play live into MPC Beats.", *rules, OUTPUT_RULE])


SYSTEM = {
    "intent": _system(
        "the request reader",
        "Read the producer's prompt and list the entities it names: artists (with the genre each is "
        "best known for), genres, moods, and a tempo, key, length in bars or song form only where the "
        "prompt states them. Never invent a tempo or key the prompt does not give.",
    ),
    "harmony": _system(
        "the harmony writer",
        "Write the song's chord loop in its key: at most 16 chords, each with a chord symbol "
        '("Ebm9", "Cbmaj7", "Db/F"), its roman numeral in the key, and its length in beats. '
        "Stay in the key; at most one borrowed chord. Use only the chord qualities listed.",
    ),
    "arrangement": _system(
        "the arranger",
        "Lay out the song's sections in order: kind, bars, energy 0-1, transition, which parts play, and "
        "which stretch of the chord loop the section uses. The bars must add up to the song's length; "
        "use only the section kinds, transitions and parts listed.",
    ),
    "part": _system(
        "a session player",
        "Write one part for one section of the song, bar by bar: every note with its beat (from 1; "
        "1.5 is the off-beat of beat 1), pitch, velocity and length in beats. Keep to the pitch range, "
        "the scale and the chords as they change; play in the genre's feel at the section's energy.",
    ),
    "part_hex": _system(
        "a session player",
        "Write one part for one section of the song as a Standard MIDI File (format 0, 480 ticks per "
        "beat, one track) and give its bytes as hex digits. Keep to the pitch range, the scale and the "
        "chords as they change; play in the genre's feel at the section's energy.",
    ),
    "presets": _system(
        "the sound designer",
        "Choose an MPC Beats instrument for every part, only from the catalog listed, and say in one "
        "sentence why it fits the song.",
    ),
    "effects": _system(
        "the mix engineer",
        "Build an insert-effect chain for every part, only from the catalog listed, with a purpose and "
        "starting values for the main parameters. A time that follows the tempo (delay time, "
        "pre-delay) gets synced_to, a note value such as 1/8 dotted.",
    ),
    "refine": _system(
        "the producer's assistant",
        "Turn the producer's request into changes to the song now playing, using only the kinds of "
        "change listed in the schema and the parts, sections and chords of this song. If the request "
        "could mean several different changes, ask one short question instead.",
    ),
    "route": _system(
        "the request router",
        "Decide what the producer's message asks for: a simple question about the song now playing "
        "(say which), a new composition, or a change to the current song (a refinement).",
    ),
}


def render(*levels: Model, **facts: object) -> str:
    """Context levels as ``Label: {json}`` lines, then each fact as ``Name: value``."""
    lines = [f"{LABELS.get(type(v).__name__, type(v).__name__)}: {v.model_dump_json()}" for v in levels]
    lines += [f"{name.replace('_', ' ').capitalize()}: {value}" for name, value in facts.items() if value not in (None, "")]
    return "\n".join(lines)


def intent_prompt(prompt: str) -> str:
    return f"Prompt: {json.dumps(prompt, ensure_ascii=False)}"


def _influences(intent: PipelineIntent) -> str:
    return "; ".join(f"{i.name} ({i.genre_mapping}, {i.weight:.0%}): {', '.join(i.traits)}" for i in intent.influences)


def harmony_prompt(plan: context.Plan) -> str:
    intent = plan.intent
    dna = intent.genre.dna_vector
    scale = scale_of(intent.key.root, intent.key.mode)
    return render(
        context.project(plan),
        length=f"{intent.duration.total_bars} bars",
        influences=_influences(intent),
        scale=" ".join(scale.name(pc) for pc in sorted(scale.pitch_classes, key=lambda pc: (pc - scale.tonic) % 12)),
        feel="half-time (chords usually last twice as long)" if intent.tempo.half_time else "",
        harmonic_complexity=f"{dna.harmonic_complexity:.2f} (0 triads .. 1 dense extensions)",
        modal_colour=f"{dna.modal_color:.2f} (0 functional cadences .. 1 static modal vamps)",
        creativity=f"{intent.creativity_dials.harmonic:.2f} (0 the expected chords .. 1 substitutions and borrowed colour)",
        chord_qualities=", ".join(repr(q) for q in tables().theory.qualities),
    )


def arrangement_prompt(plan: context.Plan) -> str:
    intent = plan.intent
    chords = " → ".join(f"{c.symbol} ({c.beats} beats)" for c in plan.progression.chords)
    return render(
        context.project(plan),
        length=f"exactly {intent.duration.total_bars} bars in all",
        requested_form=", ".join(intent.duration.sections),
        progression=chords,
        energy=f"{intent.energy.overall:.2f} overall, arc {intent.energy.arc}",
        section_kinds=", ".join(tables().arrangement.priority),
        transitions="cut, fade, build, breakdown, drop, filter_sweep",
        parts="drums, bass, chords, lead",
        chord_loop_stretches="main (all), first-half, second-half, tonic (first chord only), reverse",
    )


def _changes(grid: SectionGrid) -> str:
    parts = []
    for span in grid.spans:
        bar, rest = divmod(span.start, grid.ticks_per_bar)
        names = " ".join(note_name(n) for n in span.chord.notes)
        parts.append(f"bar {bar + 1} beat {rest // PPQ + 1}: {span.chord.symbol} [{names}] for {(span.end - span.start) / PPQ:g} beats")
    return "; ".join(parts)


def _write(grid: SectionGrid, fmt: str, bars: tuple[int, int] | None) -> str:
    total = grid.section.bars
    if fmt != "json":
        return f"a MIDI file {total} bars long"
    first, last = bars or (1, total)
    if (first, last) == (1, total):
        return f"bars 1 to {total}, every bar listed even when silent"
    return f"bars {first} to {last} of the section's {total} (number them {first} to {last}), every bar listed even when silent"


def part_prompt(plan: context.Plan, part: Part, grid: SectionGrid, fmt: str, bars: tuple[int, int] | None = None) -> str:
    """The prompt for ``part``'s clip in ``grid``'s section, or for its bars ``bars`` (1-based, inclusive)."""
    intent = plan.intent
    spec = tables().parts.parts[part]
    scale = scale_of(intent.key.root, intent.key.mode)
    lanes = ", ".join(f"{lane} {note}" for lane, note in tables().parts.drums.gm.items())
    low, high = spec.pitch_range
    return render(
        context.project(plan),
        context.group(plan, spec.group),
        context.track(plan, part),
        context.clip(plan, part, grid.index),
        length=f"{intent.duration.total_bars} bars",
        meter=f"{context.meter_label(plan.arrangement)}, {PPQ} ticks per beat",
        feel="half-time" if intent.tempo.half_time else "",
        scale=" ".join(scale.name(pc) for pc in sorted(scale.pitch_classes, key=lambda pc: (pc - scale.tonic) % 12)),
        chord_changes=_changes(grid),
        pitch_range=f"{low}-{high} ({note_name(low)}-{note_name(high)})" if part != "drums" else "",
        drum_lanes=f"General MIDI on channel 10: {lanes}" if part == "drums" else "",
        write=_write(grid, fmt, bars),
    )


def presets_prompt(plan: context.Plan) -> str:
    catalog = "; ".join(
        f"{i.name} [{', '.join(i.categories)}]: {i.description}" for i in tables().catalog.instruments
    )
    return render(context.project(plan), *context.groups(plan), *(context.track(plan, t.part) for t in plan.tracks),
                  catalog=catalog)


def effects_prompt(plan: context.Plan) -> str:
    catalog = "; ".join(f"{e.name} [{e.category}]: {e.description}" for e in tables().catalog.effects)
    return render(context.project(plan), *(context.track(plan, t.part) for t in plan.tracks),
                  tempo=f"{plan.intent.tempo.bpm:g} BPM", catalog=catalog)


def route_prompt(text: str, questions: dict[str, str], has_song: bool) -> str:
    kinds = "; ".join(f"{name}: {about}" for name, about in questions.items())
    return render(
        message=json.dumps(text, ensure_ascii=False),
        song_playing="yes" if has_song else "no",
        questions_answerable=kinds,
    )


def refine_prompt(text: str, song: SongState) -> str:
    """The request and what it may refer to: parts, sections, chords, key, tempo, genres."""
    sections = ", ".join(f"{s.name} ({s.bars} bars)" for s in song.arrangement.sections)
    chords = ", ".join(f"{i}: {c.symbol}" for i, c in enumerate(song.progression.chords, start=1))
    return render(
        request=json.dumps(text, ensure_ascii=False),
        parts="drums, bass, chords, lead",
        sections=sections,
        chords=chords,
        key=song.progression.key.label(),
        tempo=f"{song.bpm:g} BPM",
        genre=song.intent.genre.primary,
        genres_known=", ".join(tables().intent.genres),
    )
