"""Swaps and jumps in real time, checked through the engine's recording sink (issue 4).

Each trial: a random song (at 240 BPM, so a bar lasts a second), played by the daemon's player into a
real engine process whose ``record`` output writes every message with its tick; at a random moment a
random change (a jump at the next section or bar, a mute, a regenerated part); then two bars past the
change, stop. The recording is checked against a reference rendering computed from the song alone:
the bar before the boundary plays the old music, the two bars after it the new, note for note; a note
the change cuts is ended exactly on the boundary; nothing is left sounding.

``drive`` (one trial through a ``Player``) and ``check`` (with ``reference`` and ``stuck``) are shared
with the fake-clock tests (tests/daemon/swaps.py: the same player on trio's MockClock, its engine a
fake that drives the pure scheduler) and the LLM daemon tests.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trio

from backbeat.benchmarks.integrity import Keys
from backbeat.daemon.bus import Bus
from backbeat.daemon.player import Player
from backbeat.engine.commands import EngineConfig
from backbeat.engine.events import NOTE_ON
from backbeat.engine.monitor import read_record
from backbeat.engine.time import PPQ
from backbeat.generators.edits import retempo
from backbeat.generators.model import SongState, Track
from backbeat.generators.parts import generate
from backbeat.generators.pipeline import compose_sync

PROMPTS = (
    "pop song, uplifting", "Trap beat, dark", "deep house in A minor", "boom bap with jazzy chords",
    "Frank Ocean meets Burial, late-night vibes", "drum and bass", "synthwave night drive", "funk groove, busy",
    "lofi study beats", "reggaeton party", "ambient dreamy", "gospel, uplifting",
)
KINDS = ("jump-section", "jump-bar", "mute", "regenerate")
BPM = 240.0
Row = tuple[int, str, int, int]
"""A note-on: (tick, track, pitch, velocity)."""


def reference(song: SongState, tracks: dict[str, Track], first_song_bar: int, start: int, end: int, muted: set[str]) -> list[Row]:
    """Note-ons that must sound from performance tick ``start`` (a bar line playing ``first_song_bar``)
    to ``end``, played straight on from there (looping at the song's end)."""
    a = song.arrangement
    bar_ticks = song_bar_ticks(song)
    starts = a.start_bars()
    out = []
    for k in range(-(-(end - start) // bar_ticks)):
        song_bar = (first_song_bar + k) % a.total_bars
        section = max(i for i, s in enumerate(starts) if s <= song_bar)
        lo = (song_bar - starts[section]) * bar_ticks
        for part, track in tracks.items():
            if part in muted:
                continue
            for clip in track.clips:
                if clip.section != section:
                    continue
                for n in clip.notes:
                    t = start + k * bar_ticks + n.tick - lo
                    if lo <= n.tick < lo + bar_ticks and t < end:
                        out.append((t, part, n.pitch, n.velocity))
    return sorted(out)


def note_ons(messages: list[tuple[int, str, tuple[int, ...]]], lo: int, hi: int) -> list[Row]:
    return sorted((t, track, m[1], m[2]) for t, track, m in messages if m[0] & 0xF0 == NOTE_ON and m[2] > 0 and lo <= t < hi)


def stuck(messages: list[tuple[int, str, tuple[int, ...]]], boundary: int, cut_parts: set[str]) -> list[str]:
    """Problems: a note started twice, never ended, or (for a part the change cuts) ended after the
    boundary it should have stopped at."""
    keys = Keys()
    problems = []
    for tick, track, m in messages:
        ended, started = keys.feed("", m, (tick, track))
        if ended and started[1] in cut_parts and started[0] < boundary < tick:
            problems.append(f"{started[1]} note {m[0] & 0x0F, m[1]} from {started[0]} ended at {tick}, after the boundary {boundary}")
    problems += keys.problems
    if keys.sounding:
        problems.append(f"{len(keys.sounding)} notes never ended")
    return problems


@dataclass
class Trial:
    """One randomized change and what the check found."""

    seed: int
    prompt: str
    kind: str
    moment: float = 0.0
    """Seconds into playback when the change was asked for."""
    boundary: int = -1
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    """Note-ons compared with the reference."""

    @property
    def ok(self) -> bool:
        return not self.problems


def _change(player: Player, song: SongState, rng: random.Random, kind: str, seed: int):
    """Make a random ``kind`` of change; (the change, the song bar it leads to or None, tracks after, muted, cut parts)."""
    tracks = {t.part: t for t in song.tracks}
    if kind.startswith("jump"):
        target = rng.randrange(len(song.arrangement.sections))
        change = player.jump(target, "bar" if kind == "jump-bar" else "section")
        return change, song.arrangement.start_bars()[target], tracks, set(), set(tracks)
    part = rng.choice(list(tracks))
    if kind == "mute":
        return player.mute(part, True), None, tracks, {part}, {part}
    fresh = generate(song, part, seed=seed + 99)
    new = tracks[part].model_copy(update={"clips": [c.model_copy(update={"version": 2}) for c in fresh.clips]})
    return player.put_track(new, "section"), None, {**tracks, part: new}, set(), set()


Messages = list[tuple[int, str, tuple[int, ...]]]
"""(tick, track, message) of every send, in order."""


async def drive(player: Player, song: SongState, trial: Trial, rng: random.Random, sent: Callable[[], Messages]) -> None:
    """One trial through ``player``: play ``song``, make the trial's change at ``trial.moment``, play
    on two bars past the boundary it lands on, stop, and check what ``sent`` says went out."""
    player.load(song)
    player.play()
    await trio.sleep(trial.moment)
    change, after_bar, tracks, muted, cut = _change(player, song, rng, trial.kind, trial.seed)
    b = trial.boundary = change.tick
    while player.playhead() < b + 2 * song_bar_ticks(song) + PPQ:
        await trio.sleep(0.05)
    player.stop()
    await trio.sleep(0.3)
    check(trial, song, sent(), tracks, after_bar, muted, cut)


async def _trial(player: Player, record: Path, seed: int) -> Trial:
    rng = random.Random(seed)
    prompt = rng.choice(PROMPTS)
    bars = rng.choice((8, 12, 16))
    song = retempo(await trio.to_thread.run_sync(lambda: compose_sync(prompt, seed=seed, bars=bars)), BPM)
    trial = Trial(seed, prompt, rng.choice(KINDS), moment=rng.uniform(0.2, 6.0))
    already = len(read_record(str(record))) if record.exists() else 0

    def sent() -> Messages:
        return [(t, tr, m) for t, tr, m in read_record(str(record))[already:] if isinstance(m, tuple)]

    await drive(player, song, trial, rng, sent)
    return trial


def check(trial: Trial, song: SongState, messages: list[tuple[int, str, tuple[int, ...]]], tracks: dict[str, Track],
          after_bar: int | None, muted: set[str], cut: set[str]) -> None:
    """Compare what was sent around ``trial.boundary`` with the reference: the bar before it plays
    ``song`` straight on, the two bars from it play ``tracks`` from song bar ``after_bar`` (None: where
    the song was anyway) without ``muted``; notes of ``cut`` parts end at the boundary."""
    b, bar, total = trial.boundary, song_bar_ticks(song), song.arrangement.total_bars
    lo = max(0, b - bar)
    before = reference(song, {t.part: t for t in song.tracks}, (lo // bar) % total, lo, b, set())
    after = reference(song, tracks, after_bar if after_bar is not None else (b // bar) % total, b, b + 2 * bar, muted)
    got_before, got_after = note_ons(messages, lo, b), note_ons(messages, b, b + 2 * bar)
    trial.checked = len(got_before) + len(got_after)
    if got_before != before:
        trial.problems.append(f"the bar before {b}: {len(got_before)} note-ons, {len(before)} expected")
    if got_after != after:
        trial.problems.append(f"the two bars from {b}: {len(got_after)} note-ons, {len(after)} expected")
    if b % bar:
        trial.problems.append(f"the change landed at {b}, not on a bar line")
    trial.problems += stuck(messages, b, cut)


def song_bar_ticks(song: SongState) -> int:
    meter = song.arrangement.meter
    return PPQ * 4 * meter.numerator // meter.denominator


async def run_trials(count: int, first_seed: int = 1000) -> list[Trial]:
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "engine.record"
        config = EngineConfig(midi_api="record", record_path=str(record))
        player = Player(config, Bus())
        trials = []
        async with trio.open_nursery() as nursery:
            await nursery.start(player.run)
            for i in range(count):
                trials.append(await _trial(player, record, first_seed + i))
            nursery.cancel_scope.cancel()
    return trials


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser("swaps", help="randomized real-time swaps and jumps, checked through the engine's recording sink")
    p.add_argument("--json", action="store_true")
    p.add_argument("--trials", type=int, default=50)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    trials = trio.run(run_trials, args.trials)
    failed = [t for t in trials if not t.ok]
    result = {
        "benchmark": "swaps", "trials": len(trials), "exact": len(trials) - len(failed),
        "kinds": {k: sum(t.kind == k for t in trials) for k in KINDS},
        "note_ons_checked_median": statistics.median(t.checked for t in trials),
        "failures": [{"seed": t.seed, "prompt": t.prompt, "kind": t.kind, "boundary": t.boundary, "problems": t.problems} for t in failed],
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['exact']} of {result['trials']} randomized trials landed exactly on the boundary tick with no stuck note "
              f"({result['kinds']}; median {result['note_ons_checked_median']} note-ons checked per trial; {result['seconds']} s)")
        for f in result["failures"]:
            print(f"  seed {f['seed']} {f['kind']} in {f['prompt']!r}: {'; '.join(f['problems'])}")
    return 0 if not failed else 1
