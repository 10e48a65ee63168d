"""``backbeat play PROMPT|SESSION_DIR``: through the daemon when one runs; else a session folder plays
here in the foreground and a prompt starts a daemon in the foreground for that song.

A session folder plays through the daemon's own player (``daemon.solo``): its timeline feeds the
engine process a commit horizon ahead and the engine does the timing. Ctrl-C, SIGINT and SIGTERM
stop it with every sounding note ended.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import add_command
from .options import add_midi_arguments, add_socket_argument, check_agrees, engine_config


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(sub, "play")
    parser.add_argument("target", metavar="PROMPT|SESSION_DIR", help="a prompt to compose, or a folder written by backbeat generate")
    add_midi_arguments(parser)
    parser.add_argument("--once", action="store_true", help="play the song through once and stop at its end (default: it loops until stopped)")
    parser.add_argument("--loop", action="store_true", help=argparse.SUPPRESS)  # the default now; kept so old scripts run
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
    is_session = session_path(args.target)
    try:
        with DaemonClient(args.socket) as client:
            check_agrees(args, client.request("status"), str(client.path))
            if is_session:
                t = client.request("play", session=str(folder.resolve()), loop=not args.once)
                print(f"backbeat: the daemon plays {folder} from bar {t['bar']} ({t['section']})", file=sys.stderr)
            else:
                r = client.request("generate", prompt=args.target, seed=args.seed, bars=args.bars, play=True, loop=not args.once)
                print(f"backbeat: the daemon composes and plays {r['session_id']} (seed {r['seed']})", file=sys.stderr)
            return 0
    except NotRunningError:
        pass
    if is_session:
        return _play_session(args, folder)
    return _play_prompt(args)


def session_path(target: str) -> bool:
    """Whether ``target`` names a session folder rather than a prompt.

    The rule: an existing folder, or one word (no spaces) that contains a path separator or starts
    with ``~`` or ``.``, is a path — so a mistyped folder (``sessions/nope``) is an error, never a
    prompt; a prompt is words ("lofi / jazz, 80 BPM" has spaces and stays one). A path must be a
    session folder: one that does not exist, or holds no ``song-state.json``, is refused.

    Raises:
        UsageError: ``target`` is a path, but not of a session folder.
    """
    from backbeat.cli import UsageError

    folder = Path(target).expanduser()
    word = target.strip()
    if not folder.is_dir() and not (word and not any(c.isspace() for c in word)
                                    and ("/" in word or os.sep in word or word.startswith(("~", ".")))):
        return False
    if not folder.is_dir():
        raise UsageError(f"no session folder at {folder} (a prompt is words, e.g. backbeat play \"deep house\")")
    if not (folder / "song-state.json").is_file():
        raise UsageError(f"{folder} is not a session folder (no song-state.json); backbeat generate writes them")
    return True


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
    played = trio.run(lambda: play_song(song, config, loop=not args.once, title=str(folder), horizon_s=horizon_s))
    if played.telemetry is not None:
        summary(played.telemetry)
    if played.signal is not None:
        print("backbeat: stopped (every note ended)", file=sys.stderr)
        return 128 + played.signal
    return 0


def _play_prompt(args: argparse.Namespace) -> int:
    from backbeat.daemon.protocol import GenerateArgs
    from backbeat.generators.pipeline import new_draft
    from backbeat.generators.session import check_writable
    from backbeat.generators.settings import settings

    from .daemon import daemon_options, run_daemon

    new_draft(args.target, seed=args.seed, bars=args.bars)  # bad input: one line, exit 2, before anything starts
    check_writable(Path(settings().output_dir))  # an unwritable output folder: one line, exit 1, before the music
    song = GenerateArgs(prompt=args.target, seed=args.seed, bars=args.bars, play=True, loop=not args.once)
    print("backbeat: no daemon running; starting one in the foreground for this song (Ctrl-C stops)", file=sys.stderr)
    for line in STEER:
        print(f"backbeat: {line}", file=sys.stderr)
    return run_daemon(daemon_options(args, generate=song, echo=True, resume_last=False))


STEER = (
    "steer it from another terminal: `backbeat tui` (space play/stop, 1-9 jump to a section, p panic, q quits the UI "
    "and the music plays on; type a change such as \"bass too busy\" or \"jump to the chorus\" and Enter),",
    "or the commands `backbeat jump chorus`, `backbeat mute bass`, `backbeat tempo 96`, `backbeat stop` (README.md, \"Using it\")",
)
"""What a newcomer starting ``make run`` reads before the music starts: how to steer the song."""


def summary(t) -> None:
    """The engine's figures, one line (``t``: its last ``Telemetry``)."""
    print(
        f"backbeat: {t.events_sent} messages sent; lateness p50 {t.p50_ms:.2f} ms, p99 {t.p99_ms:.2f} ms, "
        f"max {t.max_ms:.2f} ms; priority {t.priority}",
        file=sys.stderr,
    )
