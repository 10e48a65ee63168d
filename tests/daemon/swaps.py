"""Randomized swap/jump trials on a fake clock: the daemon's real ``Player`` (its feed loop, its
timeline) under trio's ``MockClock``, its engine a fake that drives the engine's pure scheduler
with every send recorded at its exact deadline; ``benchmarks/swaps.py`` runs the same trials
(``drive``, ``check``) in real time through a real engine process.
"""

from __future__ import annotations

import functools
import random

import trio
import trio.testing

from backbeat.benchmarks.swaps import KINDS, PROMPTS, Trial, drive  # one list of songs and changes for both
from backbeat.daemon.bus import Bus
from backbeat.daemon.player import Player
from backbeat.daemon.timeline import Timeline
from backbeat.engine.commands import EngineConfig, ReplaceFrom
from backbeat.engine.scheduler import Scheduler
from backbeat.engine.time import PPQ, TempoMap
from backbeat.generators.model import SongState
from backbeat.generators.pipeline import compose_sync
from tests.engine.fakes import FakeEngine, Rig

STEP = 0.02
"""Seconds between feed-loop turns, as in the daemon."""
HORIZON = 0.2

__all__ = ["KINDS", "run_trial"]

class Performance:
    """A Timeline feeding the scheduler a commit horizon ahead every ``STEP`` on the fake clock, as
    the daemon's player feeds the engine; every send recorded in ``rig``. For tests that need what
    the player cannot be made to do on cue (an owner that falls behind, several ports): the swap
    trials below play through the real ``Player``."""

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


@functools.cache  # deterministic in virtual time: the coverage test reuses the trials already run
def run_trial(seed: int) -> Trial:
    rng = random.Random(seed)
    prompt = rng.choice(PROMPTS)
    song = compose_sync(prompt, seed=seed, bars=rng.choice((8, 12, 16, 24, 32)))
    bar_ticks = PPQ * 4 * song.arrangement.meter.numerator // song.arrangement.meter.denominator
    seconds_per_bar = TempoMap.constant(song.bpm).seconds_at(bar_ticks)
    trial = Trial(seed, prompt, rng.choice(KINDS), moment=rng.uniform(0.05, seconds_per_bar * song.arrangement.total_bars * 1.3))
    factory = FakeEngine.on(trio.current_time)

    async def main() -> None:
        player = Player(EngineConfig(tempo=TempoMap.constant(song.bpm)), Bus(), horizon_s=HORIZON, period_s=STEP,
                        engine_factory=factory, clock=trio.current_time)
        async with trio.open_nursery() as nursery:
            await nursery.start(player.run)
            await drive(player, song, trial, rng, lambda: factory.made[0].notes())
            engine = factory.made[0]
            if len(engine.scheduler.ledger):
                trial.problems.append("the ledger still holds sounding notes after stop")
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return trial
