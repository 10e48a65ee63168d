"""Options shared by several commands: the MIDI port options of everything that plays, the daemon
socket of every client. Cheap to import (the thin clients register them)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backbeat.engine.commands import EngineConfig
    from backbeat.engine.time import Meter, TempoMap

API_CHOICES = ("auto", "alsa", "jack", "coremidi", "winmm", "monitor", "null")
PARTS = ("drums", "bass", "chords", "lead")
"""The song's parts as the command line offers them: a copy, because a thin client must not load the
composer to parse its arguments; tests/test_imports.py checks it is ``generators.model.PARTS``."""


def user_path(text: str) -> Path:
    """A path as a person types it: ``~`` is their home, as in a shell (argparse's ``type``)."""
    return Path(text).expanduser()


def add_midi_arguments(parser: argparse.ArgumentParser) -> None:
    """The port options shared by every command that plays (``play``, and the daemon's)."""
    parser.add_argument("--midi-api", choices=API_CHOICES, default=None, help="MIDI system (default: settings, auto)")
    parser.add_argument(
        "--port", action="append", default=[], metavar="NAME",
        help="play into existing output ports whose names contain NAME (repeatable); default: a virtual port",
    )
    parser.add_argument(
        "--clock-out", action="append", nargs="?", const="", metavar="NAME",
        help="send MIDI clock (24 ppqn, start/stop, song position) to the note outputs, or to ports matching NAME",
    )
    parser.add_argument("--follow-clock", metavar="NAME", help="take tempo and start/stop from MIDI clock on input NAME")
    parser.add_argument(
        "--drum-map", action="append", default=[], metavar="[PORT=]NAME",
        help="drum notes for a kit: gm, mpc-legacy (MPC factory kits), mpc-chromatic; PORT=NAME for the ports matching PORT (repeatable)",
    )
    parser.add_argument("--link", action="store_true", default=None, help="join an Ableton Link session: follow its tempo and bar phase (needs the link extra)")
    parser.add_argument("--link-start-stop", action="store_true", default=None, help="with --link: start and stop with the Link session's transport")


def drum_maps_of(args: argparse.Namespace, fallback: str | None = None) -> tuple[str, dict[str, str]]:
    """(the default drum map, a map per port pattern) from ``--drum-map`` over ``fallback`` (a
    session's own map) over the settings. Raises BadRequestError for an unknown map."""
    from backbeat.generators import drum_maps
    from backbeat.generators.settings import settings

    default, per_port = fallback or settings().drum_map, dict(settings().playback.drum_maps)
    for value in getattr(args, "drum_map", None) or []:
        port, _, name = value.rpartition("=")
        if port:
            per_port[port] = name
        else:
            default = name
    for name in (default, *per_port.values()):
        drum_maps.drum_map(name)
    return default, per_port


def add_socket_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket", type=user_path, help="daemon socket (default: BACKBEAT_SOCKET or the user runtime dir)")


def engine_config(args: argparse.Namespace, tempo: TempoMap, meter: Meter, *, drum_map: str | None = None) -> EngineConfig:
    """An EngineConfig from the command line, with the user's playback settings as defaults
    (``drum_map``: the session's own map, used when the command line names none)."""
    from backbeat.engine.commands import EngineConfig
    from backbeat.generators.drum_maps import port_rows
    from backbeat.generators.settings import settings  # the CLI process may use pydantic; the engine may not

    playback = settings().playback
    link = playback.link if getattr(args, "link", None) is None else args.link
    start_stop = playback.link_start_stop if getattr(args, "link_start_stop", None) is None else args.link_start_stop
    clock_out = None
    if args.clock_out is not None:
        names = tuple(n for n in args.clock_out if n)
        clock_out = () if "" in args.clock_out else names
    return EngineConfig(
        midi_api=args.midi_api or playback.midi_api,
        ports=tuple(args.port),
        client_name=playback.client_name,
        port_name=playback.port_name,
        clock_out=clock_out,
        follow=args.follow_clock,
        tempo=tempo,
        meter=meter,
        drum_notes=port_rows(*drum_maps_of(args, drum_map)),
        link=link or start_stop,
        link_start_stop=start_stop,
    )


def disagreements(args: argparse.Namespace, status: dict) -> list[str]:
    """What the command line asks of the MIDI output that a running daemon does otherwise (from its
    ``status``), one phrase each; empty when every option given agrees (options left out always do).

    A client such as ``play`` hands its song to the daemon that runs; it cannot re-open the daemon's
    ports, so an option it would silently drop is said instead.
    """
    engine, ports = status.get("engine") or {}, status.get("ports") or []
    found: list[str] = []
    api = getattr(args, "midi_api", None)
    if api and api != "auto" and api != engine.get("api"):
        found.append(f"--midi-api {api} (the daemon plays through {engine.get('api') or 'no MIDI system'})")
    names = [p.get("name", "") for p in ports if "notes" in p.get("role", "")]
    for pattern in getattr(args, "port", None) or []:
        if not any(pattern in name for name in names):
            found.append(f"--port {pattern} (the daemon plays into {', '.join(names) or 'no port'})")
    if getattr(args, "clock_out", None) is not None and not any("clock" in p.get("role", "") for p in ports):
        found.append("--clock-out (the daemon sends no MIDI clock)")
    if getattr(args, "follow_clock", None) and not any(p.get("role") == "follow" for p in ports):
        found.append(f"--follow-clock {args.follow_clock} (the daemon follows no clock)")
    if getattr(args, "link", None) and not engine.get("link"):
        found.append("--link (the daemon is not in an Ableton Link session)")
    found += _drum_map_disagreements(getattr(args, "drum_map", None) or [], [p for p in ports if p.get("drum_map")])
    return found


def _drum_map_disagreements(values: list[str], ports: list[dict]) -> list[str]:
    """``--drum-map`` values whose ports (every note port its pattern names; a bare map: those no
    pattern names) send drums through another map in the daemon."""
    if not values or not ports:
        return []
    from backbeat.generators.drum_maps import map_of_port

    default, per_port = drum_maps_of(argparse.Namespace(drum_map=values))
    found = []
    for value in values:
        pattern, _, _ = value.rpartition("=")
        for port in ports:
            name = port["name"].casefold()
            first = next((p for p in per_port if p.casefold() in name), None)
            if (first is None) if not pattern else (first == pattern):
                wanted = map_of_port(port["name"], default, per_port)
                if wanted != port["drum_map"]:
                    found.append(f"--drum-map {value} (the daemon sends {port['name']}'s drums through {port['drum_map']})")
    return found


def check_agrees(args: argparse.Namespace, status: dict, socket: str) -> None:
    """Raise the one-line usage error for ``disagreements``, with the two ways out.

    Raises:
        UsageError: an option disagrees with the running daemon.
    """
    found = disagreements(args, status)
    if found:
        from backbeat.cli import UsageError

        raise UsageError(f"a backbeat daemon is running on {socket} and these options disagree with it: "
                         f"{'; '.join(found)}. Leave them out to play through it, or stop it first (backbeat shutdown)")
