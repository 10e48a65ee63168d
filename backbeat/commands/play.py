"""``backbeat play PROMPT|SESSION_DIR``: through the daemon when one runs; else a session folder plays
here in the foreground and a prompt starts a daemon in the foreground for that song.

A session folder plays through the daemon's own player (``daemon.solo``): its timeline feeds the
engine process a commit horizon ahead and the engine does the timing. Ctrl-C, SIGINT and SIGTERM
stop it with every sounding note ended.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import add_command
from .options import add_midi_arguments, add_socket_argument, check_agrees, engine_config


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
    import trio

    from backbeat.daemon.solo import play_song
    from backbeat.engine.time import Meter, TempoMap
    from backbeat.generators.session import load_song
    from backbeat.generators.settings import settings

    song = load_song(folder)
    meter = song.arrangement.meter
    config = engine_config(args, TempoMap.constant(song.bpm), Meter(meter.numerator, meter.denominator), drum_map=song.drum_map)
    horizon_s = settings().playback.commit_horizon_ms / 1000
    played = trio.run(lambda: play_song(song, config, loop=args.loop, title=str(folder), horizon_s=horizon_s))
    if played.telemetry is not None:
        summary(played.telemetry)
    if played.signal is not None:
        print("backbeat: stopped (every note ended)", file=sys.stderr)
        return 128 + played.signal
    return 0


def _play_prompt(args: argparse.Namespace) -> int:
    from backbeat.daemon.protocol import GenerateArgs
    from backbeat.generators.pipeline import new_draft

    from .daemon import daemon_options, run_daemon

    new_draft(args.target, seed=args.seed, bars=args.bars)  # bad input: one line, exit 2, before anything starts
    song = GenerateArgs(prompt=args.target, seed=args.seed, bars=args.bars, play=True)
    print("backbeat: no daemon running; starting one in the foreground for this song (Ctrl-C stops)", file=sys.stderr)
    return run_daemon(daemon_options(args, generate=song, echo=True, resume_last=False))


def summary(t) -> None:
    """The engine's figures, one line (``t``: its last ``Telemetry``)."""
    print(
        f"backbeat: {t.events_sent} messages sent; lateness p50 {t.p50_ms:.2f} ms, p99 {t.p99_ms:.2f} ms, "
        f"max {t.max_ms:.2f} ms; priority {t.priority}",
        file=sys.stderr,
    )
