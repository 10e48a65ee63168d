"""``backbeat drum-map SESSION_DIR [NAME]``: show a session's drum map, or write its drum files for another.

The song's drum notes stay General MIDI roles; only the files whose bytes depend on the map change
(``midi/drums.mid``, the drum track of ``midi/full-arrangement.mid``, ``notes/drum-pads.md``), with
the state and a history entry, so ``backbeat refine --undo`` takes it back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import EXIT_OK
from . import add_command
from .options import user_path


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(sub, "drum-map")
    parser.add_argument("session", type=user_path, metavar="SESSION_DIR")
    parser.add_argument("name", nargs="?", help="gm, mpc-legacy (MPC factory kits), mpc-chromatic (MPC 2.11+ programs), or your own")
    parser.set_defaults(run=run)


def remap(folder: Path, name: str) -> list[str]:
    """Write the session in ``folder`` for drum map ``name``; the files rewritten."""
    from backbeat.generators import drum_maps, session
    from backbeat.generators.revisions import commit

    drum_maps.drum_map(name)
    song = session.load_song(folder)
    if song.drum_map == name:
        return []
    _, files = commit(folder, song, song.model_copy(update={"drum_map": name}), "drum-map", f"drum-map {name}", ["drums"])
    return files


def run(args: argparse.Namespace) -> int:
    from backbeat.generators import drum_maps, session

    if args.name is None:
        song = session.load_song(args.session)
        print(f"{args.session}: drum map {song.drum_map} ({drum_maps.drum_map(song.drum_map).description})")
        print(f"maps: {', '.join(drum_maps.names())}")
        return EXIT_OK
    files = remap(args.session, args.name)
    if not files:
        print(f"{args.session} is already written for {args.name}")
    for path in files:
        print(f"rewrote {args.session / path}")
    return EXIT_OK
