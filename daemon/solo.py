"""One song in the foreground, without a daemon: what ``backbeat play SESSION_DIR`` runs.

The daemon's own ``Player`` (its timeline, its feed loop, looping, its end) in a trio run of its
own, with no socket and no live song: the song plays to its end, or looping until a signal, or —
following an external MIDI clock — whenever that clock runs. Engine notices are printed as they
come; SIGINT and SIGTERM stop playback with every note ended, then the engine's figures are printed.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass

import trio

from backbeat.engine.commands import EngineConfig, Telemetry
from backbeat.generators.model import SongState

from .bus import Bus, Subscriber
from .player import Player


@dataclass(frozen=True, slots=True)
class Played:
    """How a foreground performance ended."""

    signal: int | None
    """The signal that stopped it (None: the song ended)."""
    telemetry: Telemetry | None
    """The engine's last report (lateness, messages sent)."""


def say(line: str) -> None:
    print(f"backbeat: {line}", file=sys.stderr, flush=True)


async def play_song(song: SongState, config: EngineConfig, *, loop: bool, title: str, horizon_s: float) -> Played:
    """Play ``song`` through a fresh engine until it ends (or a signal stops it)."""
    bus = Bus()
    player = Player(config, bus, horizon_s=horizon_s)
    events = bus.subscribe(["log", "transport"])
    caught: list[int] = []
    async with trio.open_nursery() as nursery:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            await nursery.start(player.run)
            player.load(song)
            player.loop = loop
            if config.follow is None:
                player.play(loop=loop)
            _announce(player, title, config)
            ended = trio.Event()
            nursery.start_soon(_echo, events, ended)
            nursery.start_soon(_first_signal, signals, caught, ended)
            await ended.wait()
            player.stop()
            final = await _final(player)
        nursery.cancel_scope.cancel()
    return Played(caught[0] if caught else None, final)


async def _echo(events: Subscriber, ended: trio.Event) -> None:
    async for frame in events.receive:
        if frame["event"] == "log":
            say(frame["data"]["message"])
        elif frame["data"]["ended"]:
            ended.set()


async def _first_signal(signals, caught: list[int], ended: trio.Event) -> None:
    async for signum in signals:
        caught.append(signum)
        ended.set()
        return


async def _final(player: Player) -> Telemetry | None:
    """The engine's report once it has stopped (it reports every transport change)."""
    with trio.move_on_after(2.0):
        while player.engine is not None and (t := player.engine.telemetry) is not None and t.state != "stopped":
            await trio.sleep(0.01)
    return player.engine.telemetry if player.engine is not None else None


def _announce(player: Player, title: str, config: EngineConfig) -> None:
    t = player.engine.telemetry
    ports = ", ".join(f"{p.name} ({p.role})" for p in t.ports)
    how = "waiting for MIDI clock on " + config.follow if config.follow else f"{t.bpm:g} BPM"
    say(f"playing {title} into {ports} [{t.api}], {how}; Ctrl-C stops")
