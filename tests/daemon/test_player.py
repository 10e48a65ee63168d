"""The real ``Player`` on trio's ``MockClock``, its engine the fake that drives the pure scheduler:
a looped song plays seamlessly with every note at its exact time, an unlooped one ends with every
note ended, and a followed MIDI clock starts and stops it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio
import trio.testing

from backbeat.benchmarks.swaps import reference, song_bar_ticks
from backbeat.daemon.bus import Bus
from backbeat.daemon.player import Player
from backbeat.engine.commands import EngineConfig
from backbeat.engine.events import NOTE_ON
from backbeat.engine.time import TempoMap
from backbeat.generators.model import SongState
from tests.engine.fakes import FakeEngine
from tests.generators.songs import song as composed


def play(song: SongState, scenario: Callable[[Player, FakeEngine], Awaitable[None]], **config) -> FakeEngine:
    factory = FakeEngine.on(trio.current_time)

    async def main() -> None:
        player = Player(EngineConfig(tempo=TempoMap.constant(song.bpm), **config), Bus(),
                        engine_factory=factory, clock=trio.current_time)
        async with trio.open_nursery() as nursery:
            await nursery.start(player.run)
            player.load(song)
            await scenario(player, factory.made[0])
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return factory.made[0]


def note_ons(engine: FakeEngine) -> list[tuple[float, int, str, int, int]]:
    """(send time, tick, track, pitch, velocity) of every note-on sent."""
    return [(s.at, s.send.tick, s.send.track, s.send.message[1], s.send.message[2]) for s in engine.rig.sent
            if s.send.message[0] & 0xF0 == NOTE_ON and s.send.message[2] > 0]


def test_a_looped_song_plays_seamlessly_every_note_at_its_exact_time():
    song = composed("lofi study beats", 4, 4)
    end = song.arrangement.total_bars * song_bar_ticks(song)
    tempo = TempoMap.constant(song.bpm)
    started = {}

    async def three_passes(player: Player, engine: FakeEngine) -> None:
        player.play(loop=True)
        started["at"] = engine.scheduler.anchor[0]
        await trio.sleep(tempo.seconds_at(3 * end) + 0.05)
        player.stop()

    engine = play(song, three_passes)
    got = note_ons(engine)
    want = reference(song, {t.part: t for t in song.tracks}, 0, 0, 3 * end, set())
    assert sorted((tick, track, pitch, vel) for _, tick, track, pitch, vel in got if tick < 3 * end) == want
    assert all(at == started["at"] + tempo.seconds_at(tick) for at, tick, *_ in got), "exact, across both loop points"
    assert not len(engine.scheduler.ledger)


def test_an_unlooped_song_ends_with_every_note_ended_and_plays_again():
    song = composed("deep house in A minor", 2, 4)
    end = song.arrangement.total_bars * song_bar_ticks(song)
    seen = {}

    async def once(player: Player, engine: FakeEngine) -> None:
        player.play(loop=False)
        await trio.sleep(TempoMap.constant(song.bpm).seconds_at(end) + 0.2)
        seen["after_end"] = (player.transport().state, player.transport().ended)
        seen["ledger"] = len(engine.scheduler.ledger)
        seen["sent"] = len(note_ons(engine))
        await trio.sleep(1.0)
        seen["later"] = len(note_ons(engine))
        player.play()
        seen["again"] = player.transport().state

    engine = play(song, once)
    assert seen["after_end"] == ("stopped", True) and seen["ledger"] == 0, "an ended song reports stopped"
    assert seen["sent"] == len(reference(song, {t.part: t for t in song.tracks}, 0, 0, end, set())) == seen["later"]
    assert seen["again"] == "playing"
    assert max(tick for _, tick, *_ in note_ons(engine)[: seen["sent"]]) < end


def test_a_followed_clock_starts_and_stops_the_player():
    song = composed("pop song", 3, 8)
    states = []

    async def followed(player: Player, engine: FakeEngine) -> None:
        await trio.sleep(0.5)
        states.append(player.state)
        engine.external("start", 0)
        await trio.sleep(2.0)
        states.append(player.state)
        engine.external("stop")
        await trio.sleep(0.1)
        states.append(player.state)

    engine = play(song, followed, follow="ext-clock")
    assert states == ["stopped", "playing", "stopped"]
    ticks = [tick for _, tick, *_ in note_ons(engine)]
    first = reference(song, {t.part: t for t in song.tracks}, 0, 0, 2 * song_bar_ticks(song), set())
    assert ticks and min(ticks) == first[0][0], "from the tick the clock started at"
    assert not len(engine.scheduler.ledger)
