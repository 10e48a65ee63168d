"""Randomized swap/jump trials on a fake clock: the daemon's Timeline feeding the engine's scheduler
a commit horizon ahead, every send recorded, checked against the reference rendering that
``benchmarks/swaps.py`` (the same trials in real time, through a real engine) uses too.
"""

from __future__ import annotations

import random

from backbeat.benchmarks.swaps import KINDS, PROMPTS, Trial, check  # one list of songs and changes for both
from backbeat.daemon.timeline import Timeline
from backbeat.engine.commands import ReplaceFrom
from backbeat.engine.scheduler import Scheduler
from backbeat.engine.time import PPQ, TempoMap
from backbeat.generators.model import SongState
from backbeat.generators.parts import generate
from backbeat.generators.pipeline import compose_sync
from tests.engine.fakes import Rig

STEP = 0.02
"""Seconds between feed-loop turns, as in the daemon."""
HORIZON = 0.2


class Performance:
    """A Timeline feeding the scheduler a commit horizon ahead every ``STEP`` on the fake clock, as
    the daemon's player feeds the engine; every send recorded in ``rig``."""

    def __init__(self, song: SongState, tempo: TempoMap, ports: tuple[str, ...] = ("out",)) -> None:
        self.tl = Timeline(song)
        self.rig = Rig(Scheduler(ports, tempo=tempo))
        self.horizon = int(HORIZON * song.bpm * PPQ / 60) + 1

    def feed(self) -> None:
        s = self.rig.scheduler
        playhead = s.playhead(self.rig.now)
        for command in self.tl.commit(int(playhead) + self.horizon):
            if isinstance(command, ReplaceFrom):
                s.replace_from(command.track, command.tick, command.events, now=self.rig.now)
            else:
                s.schedule(command.events, now=self.rig.now)

    def start(self, tick: int = 0) -> None:
        self.tl.reset(tick)
        self.feed()
        self.rig.record(self.rig.scheduler.start(self.rig.now, tick))

    def run_until(self, t: float) -> None:
        while self.rig.now < t:
            self.rig.advance(STEP)
            self.feed()


def run_trial(seed: int) -> Trial:
    rng = random.Random(seed)
    prompt = rng.choice(PROMPTS)
    song = compose_sync(prompt, seed=seed, bars=rng.choice((8, 12, 16, 24, 32)))
    bar_ticks = PPQ * 4 * song.arrangement.meter.numerator // song.arrangement.meter.denominator
    tempo = TempoMap.constant(song.bpm)
    seconds_per_bar = tempo.seconds_at(bar_ticks)
    trial = Trial(seed, prompt, rng.choice(KINDS), moment=rng.uniform(0.05, seconds_per_bar * song.arrangement.total_bars * 1.3))
    play = Performance(song, tempo)
    tl, rig = play.tl, play.rig
    play.start()
    play.run_until(trial.moment)
    old_tracks = {t.part: t for t in song.tracks}
    new_tracks, muted, cut_parts = dict(old_tracks), set(), set()
    if trial.kind.startswith("jump"):
        target = rng.randrange(len(song.arrangement.sections))
        change = tl.jump(target, "bar" if trial.kind == "jump-bar" else "section")
        after_bar = song.arrangement.start_bars()[target]
        cut_parts = set(old_tracks)
    else:
        part = rng.choice(list(old_tracks))
        if trial.kind == "mute":
            change = tl.mute(part, True)
            muted, cut_parts = {part}, {part}
        else:
            fresh = generate(song, part, seed=seed + 99)
            new = old_tracks[part].model_copy(update={"clips": [c.model_copy(update={"version": 2}) for c in fresh.clips]})
            change = tl.put_track(new, "section")
            new_tracks[part] = new
        after_bar = (change.tick // bar_ticks) % song.arrangement.total_bars
    b = trial.boundary = change.tick
    window = 2 * bar_ticks
    play.run_until(tempo.seconds_at(b + window) + 0.5)
    rig.record(rig.scheduler.stop(rig.now))

    messages = [(x.send.tick, x.send.track, x.send.message) for x in rig.sent]
    check(trial, song, messages, new_tracks, after_bar, muted, cut_parts)
    if len(rig.scheduler.ledger):
        trial.problems.append("the ledger still holds sounding notes after stop")
    return trial
