"""The four Markdown notes of a session folder, written for a producer sitting at MPC Beats.

Facts about MPC Beats used here (menus, where progressions go) are the ones docs/MPC_BEATS.md
sources; anything unverified is phrased as a suggestion.
"""

from __future__ import annotations

from .model import SongState, Track

_IMPORT = {
    "drum-kit": "new Drum track, load any factory drum kit",
    "default": "new Plugin track, load the **{instrument}** plugin",
}


def _feel(song: SongState) -> str:
    tempo = song.intent.tempo
    if tempo.half_time:
        return f"{tempo.bpm:g} BPM clock, half-time feel (felt at {tempo.bpm / 2:g})"
    return f"{tempo.bpm:g} BPM"


def _genre(song: SongState) -> str:
    g = song.intent.genre
    if g.secondary:
        return f"{g.primary} {g.blend_weights[0]:.0%} + {g.secondary} {g.blend_weights[1]:.0%}"
    return g.primary


def _track_line(i: int, t: Track) -> str:
    p = t.preset
    how = _IMPORT["drum-kit"] if p and p.category == "drum-kit" else _IMPORT["default"].format(instrument=p.instrument if p else "?")
    if p and p.preset:
        how += f", preset \"{p.preset}\""
    return f"   - Track {i} ({t.name}, MIDI channel {t.channel}): {how}; import `midi/{t.part}.mid`."


def producer_notes(song: SongState, progression_name: str) -> str:
    intent = song.intent
    lines = [
        f"# Session: {intent.prompt}",
        "",
        f"{_genre(song)} · {song.progression.key.label()} · {_feel(song)} · "
        f"{song.arrangement.total_bars} bars · seed {song.seed}",
        "",
        "## Quick start in MPC Beats",
        "",
        "1. Open MPC Beats and start a new project.",
        f"2. Set the tempo to **{intent.tempo.bpm:g} BPM** and the time signature to "
        f"{song.arrangement.meter.numerator}/{song.arrangement.meter.denominator}.",
        f"3. Create {len(song.tracks)} tracks:",
        *[_track_line(i, t) for i, t in enumerate(song.tracks, start=1)],
        "   Or drag `midi/full-arrangement.mid` in to get every part at once (one track per part, named).",
        "4. Apply the effect chains in `notes/effect-chains.md` (starting points; set by ear).",
        "5. Chord pads: copy `progression/main.progression` into MPC Beats' `Progressions` folder "
        "(the folder holding the factory file `Godly.progression`), restart MPC Beats, then open "
        f"Pad Perform > Progressions and pick **{progression_name}**.",
        "6. Press play. The section map is in `notes/arrangement-map.md`.",
        "",
        "## Why it sounds like this",
        "",
        *[f"- **{inf.name}** ({inf.weight:.0%} → {inf.genre_mapping}): {', '.join(inf.traits)}" for inf in intent.influences],
        f"- Mood: {', '.join(intent.mood) or 'none stated'}.",
        f"- Progression: {' → '.join(song.progression.symbols())} ({song.progression.style}).",
        f"- Creativity: harmonic {intent.creativity_dials.harmonic:.2f}, rhythmic {intent.creativity_dials.rhythmic:.2f}.",
    ]
    if intent.ambiguities:
        lines += ["", "## Open questions", "", *[f"- {a}" for a in intent.ambiguities]]
    return "\n".join(lines) + "\n"


def preset_assignments(song: SongState) -> str:
    lines = ["# Preset assignments", "", "| track | channel | MPC Beats instrument | preset | why |", "|---|---|---|---|---|"]
    for t in song.tracks:
        p = t.preset
        if p is None:
            continue
        preset = p.preset or "any factory preset in the category (" + p.category + ")"
        lines.append(f"| {t.name} | {t.channel} | {p.instrument} | {preset} | {p.reason} |")
    lines += ["", "Instruments come from `config/mpc_beats.toml`; each entry cites where MPC Beats is documented to ship it."]
    return "\n".join(lines) + "\n"


def effect_chains(song: SongState) -> str:
    lines = ["# Effect chains", "", f"Time-based values are computed for {song.bpm:g} BPM.", ""]
    for t in song.tracks:
        lines += [f"## {t.name}", ""]
        if not t.effects:
            lines += ["No inserts.", ""]
            continue
        for i, slot in enumerate(t.effects, start=1):
            lines.append(f"{i}. **{slot.effect}** — {slot.purpose}")
            for p in slot.params:
                synced = f" ({p.synced_to} note)" if p.synced_to else ""
                lines.append(f"   - set {p.name} to about {p.value:g} {p.unit}{synced}".rstrip())
        lines.append("")
    return "\n".join(lines)


def arrangement_map(song: SongState) -> str:
    chords = song.progression.chords
    lines = ["# Arrangement map", "", "| # | section | bars | start bar | energy | parts | chords | into next |", "|---|---|---|---|---|---|---|---|"]
    for i, (s, start) in enumerate(zip(song.arrangement.sections, song.arrangement.start_bars()), start=1):
        symbols = " ".join(chords[k].symbol for k in s.chord_order)
        lines.append(
            f"| {i} | {s.name} | {s.bars} | {start + 1} | {s.energy:.2f} | {', '.join(s.active_tracks)} | {symbols} | {s.transition} |"
        )
    lines += ["", f"Total: {song.arrangement.total_bars} bars of {song.arrangement.meter.numerator}/{song.arrangement.meter.denominator}."]
    return "\n".join(lines) + "\n"
