"""``backbeat play SESSION_DIR``: play a session folder's arrangement in real time, in the foreground.

The song's events go to the engine process a commit horizon ahead of its playhead (``engine.feed``);
the engine does the timing. Ctrl-C, SIGINT and SIGTERM only set a flag that the feed loop checks
every few milliseconds: a signal never interrupts a half-written command, and the stop that follows
ends every sounding note before the engine exits.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backbeat.engine.client import EngineClient
from backbeat.engine.commands import EngineConfig, Telemetry
from backbeat.engine.events import Clip, clip_events
from backbeat.engine.feed import Feeder
from backbeat.engine.time import PPQ

from . import add_command
from .options import add_midi_arguments, add_socket_argument, check_agrees, engine_config

TURN = 0.02
"""Seconds between feed-loop turns (the engine wakes the loop sooner with telemetry)."""
MIN_HORIZON = 0.25
"""Seconds: the feed loop must stay ahead of one telemetry interval plus a turn."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(sub, "play")
    parser.add_argument("target", metavar="PROMPT|SESSION_DIR", help="a prompt to compose, or a folder written by backbeat generate")
    add_midi_arguments(parser)
    parser.add_argument("--loop", action="store_true", help="start again at the end, seamlessly (a prompt always loops)")
    parser.add_argument("--seed", type=int, help="for a prompt: same seed, same song")
    parser.add_argument("--bars", type=int, help="for a prompt: total length in bars")
    add_socket_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Through a running daemon if there is one; else a session folder plays here, and a prompt
    starts a daemon in the foreground for this song."""
    from backbeat.daemon.client import DaemonClient
    from backbeat.daemon.errors import NotRunningError

    folder = Path(args.target).expanduser()
    is_session = folder.is_dir()
    try:
        with DaemonClient(args.socket) as client:
            check_agrees(args, client.request("status"), str(client.path))
            if is_session:
                t = client.request("play", session=str(folder.resolve()), loop=args.loop)
                print(f"backbeat: the daemon plays {folder} from bar {t['bar']} ({t['section']})", file=sys.stderr)
            else:
                r = client.request("generate", prompt=args.target, seed=args.seed, bars=args.bars, play=True)
                print(f"backbeat: the daemon composes and plays {r['session_id']} (seed {r['seed']})", file=sys.stderr)
            return 0
    except NotRunningError:
        pass
    if is_session:
        return _play_session(args, folder)
    return _play_prompt(args)


def _play_session(args: argparse.Namespace, folder: Path) -> int:
    from backbeat.generators.render import meter, song_clips, song_end, tempo_map
    from backbeat.generators.session import load_song

    song = load_song(folder)
    config = engine_config(args, tempo_map(song), meter(song), drum_map=song.drum_map)
    return play_clips(song_clips(song), config, end=song_end(song), loop=args.loop, title=str(folder))


def _play_prompt(args: argparse.Namespace) -> int:
    from backbeat.daemon.protocol import GenerateArgs
    from backbeat.generators.pipeline import new_draft

    from .daemon import daemon_options, run_daemon

    new_draft(args.target, seed=args.seed, bars=args.bars)  # bad input: one line, exit 2, before anything starts
    song = GenerateArgs(prompt=args.target, seed=args.seed, bars=args.bars, play=True)
    print("backbeat: no daemon running; starting one in the foreground for this song (Ctrl-C stops)", file=sys.stderr)
    return run_daemon(daemon_options(args, generate=song, echo=True, resume_last=False))


@contextmanager
def stop_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM append their number to the yielded list instead of raising."""
    caught: list[int] = []
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, _frame: caught.append(signum)) for s in handled}
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def play_clips(clips: list[Clip], config: EngineConfig, *, end: int | None = None, loop: bool = False,
               title: str = "song") -> int:
    """Play ``clips`` through a fresh engine until the end (or, looping, until a signal)."""
    from backbeat.generators.settings import settings

    events = [e for clip in clips for e in clip_events(clip)]
    end = end if end is not None else max((c.end for c in clips), default=0)
    horizon_s = max(settings().playback.commit_horizon_ms / 1000, MIN_HORIZON)
    with stop_signals() as caught, EngineClient(config) as engine:
        _announce(engine, title, config)
        feeder = Feeder(events, end, loop=loop)
        following = config.follow is not None
        last_state = "stopped"
        if not following:
            _feed(engine, feeder, 0.0, horizon_s, config.tempo.bpm_at(0))
            engine.start(0)
            last_state = engine.wait_telemetry().state  # so the loop never sees the pre-start state
        while not caught:
            engine.poll(TURN)
            engine.recv_telemetry()
            for notice in engine.take_notices():
                print(f"backbeat: {notice.text}", file=sys.stderr)
            telemetry = engine.telemetry
            assert telemetry is not None
            if following and telemetry.state != last_state:
                feeder.rewind(telemetry.tick)  # the external clock started or stopped us
            last_state = telemetry.state
            if telemetry.state != "playing" and not following:
                break
            playhead = telemetry.tick_at(time.perf_counter())
            if telemetry.state == "playing":
                _feed(engine, feeder, playhead, horizon_s, telemetry.bpm)
            if feeder.finished(playhead):
                break
        engine.stop()
        final = engine.wait_telemetry()
    _summary(final)
    if caught:
        print("backbeat: stopped (every note ended)", file=sys.stderr)
        return 128 + caught[0]
    return 0


def _feed(engine: EngineClient, feeder: Feeder, playhead: float, horizon_s: float, bpm: float) -> None:
    for item in feeder.feed(playhead, horizon_s * bpm * PPQ / 60.0):
        if item.jump is not None:
            engine.jump(*item.jump)
        if item.events:
            engine.schedule(item.events)


def _announce(engine: EngineClient, title: str, config: EngineConfig) -> None:
    telemetry = engine.telemetry
    assert telemetry is not None
    for notice in engine.take_notices():
        print(f"backbeat: {notice.text}", file=sys.stderr)
    ports = ", ".join(f"{p.name} ({p.role})" for p in telemetry.ports)
    how = "waiting for MIDI clock on " + config.follow if config.follow else f"{telemetry.bpm:g} BPM"
    print(f"backbeat: playing {title} into {ports} [{telemetry.api}], {how}; Ctrl-C stops", file=sys.stderr)


def _summary(t: Telemetry) -> None:
    print(
        f"backbeat: {t.events_sent} messages sent; lateness p50 {t.p50_ms:.2f} ms, p99 {t.p99_ms:.2f} ms, "
        f"max {t.max_ms:.2f} ms; priority {t.priority}",
        file=sys.stderr,
    )
