"""The Markdown notes of a session folder, written for a producer sitting at MPC Beats.

Every statement about MPC Beats here is one docs/MPC_BEATS.md gives a source for; what it marks
unverified is said as something to check, never as fact (the menu path for importing a MIDI file,
for one, and Pad Perform's root and scale settings).
"""

from __future__ import annotations

from . import drum_maps
from .model import SongState, Track
from .mpc import mpc_key  # the session writes the progression file with the same spelling

_IMPORT = {
    "drum-kit": "a **Drum** track with a drum kit (pads: `notes/drum-pads.md`)",
    "default": "a **Plugin** track with the **{instrument}** plugin",
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
    return f"   - Track {i}, {t.name}: {how}; `midi/{t.part}.mid`; live: MIDI input channel **{t.channel}**."


def producer_notes(song: SongState, progression_name: str, progression_path: str) -> str:
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
        f"3. Create {len(song.tracks)} tracks and load each part's file into its track:",
        *[_track_line(i, t) for i, t in enumerate(song.tracks, start=1)],
        "   `midi/full-arrangement.mid` holds every part (one named track each) with the tempo and section markers.",
        "   backbeat's sources do not confirm the menu path for importing a MIDI file in MPC Beats: use the",
        "   one your version's manual gives (docs/MPC_BEATS.md §4.4).",
        "4. Apply the effect chains in `notes/effect-chains.md` (starting points; set by ear).",
        f"5. Chord pads: copy `{progression_path}` into MPC Beats' `Progressions` folder "
        "(the folder holding the factory file `Godly.progression`), restart MPC Beats, then open "
        f"Pad Perform > Progressions and pick **{progression_name}** (listed under the heading *backbeat*). "
        f"Its 16 pads are the song's chords first, then neighbours to play with. If your Pad Perform "
        f"shows a root and scale, set them to **{_mpc_key(song)}**.",
        "6. Press play. The section map is in `notes/arrangement-map.md`.",
        "",
        "## Playing live from backbeat",
        "",
        "1. Preferences > MIDI / Sync > Input Ports: turn on **Track** for the backbeat port.",
        "2. On each track set the MIDI **Input** to the backbeat port and the **channel** above (without the",
        "   channel every track plays all four parts), and **Monitor** to **In** or **Merge** (with **Auto** a",
        "   track sounds only while it is record-armed).",
        "3. Sync: the MPC software's Preferences > MIDI / Sync > Receive offers Ableton Link (check that your",
        "   MPC Beats does too); then run backbeat with `--link`. Otherwise set Receive to MIDI Clock and run",
        "   backbeat with `--clock-out` (MPC disables audio recording while it follows MIDI clock).",
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


def _mpc_key(song: SongState) -> str:
    key = song.progression.key
    return f"{mpc_key(key.root)} {key.mode}"


def drum_pads(song: SongState) -> str:
    """Which pad (or note) plays which drum sound under the session's drum map, and what to do when a
    kit differs."""
    name = song.drum_map
    dm = drum_maps.drum_map(name)
    try:
        used = {n.pitch for c in song.track("drums").clips for n in c.notes}
    except KeyError:
        used = set()
    rows = drum_maps.pad_rows(name, used)
    lines = [
        "# Drum pads", "",
        f"`midi/drums.mid` is written for the drum map **{name}**: {dm.description}.", "",
        "| pad | note | put this sound there | plays the song's |", "|---|---|---|---|",
        *[f"| {pad or '-'} | {note} | {sound} | {', '.join(gm)} |" for pad, note, sound, gm in rows],
        "", f"Source of the layout: {dm.source}.", "",
        "## When your kit's pads differ", "",
        "- Another layout: write the files again for it, e.g. `backbeat drum-map SESSION_DIR mpc-legacy`",
        f"  (maps: {', '.join(drum_maps.names())}); only the drum files change.",
        "- Your own kit: copy `config/drum_maps/mpc-legacy.toml` into `drum_maps/` in backbeat's config",
        "  folder under a new name, set each role's pad and note, and use that name.",
        "- Or move the samples in the kit to the pads listed above.",
        "- Live, `--drum-map NAME` (or `--drum-map PORT=NAME` for one port) sends the same notes.",
    ]
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
