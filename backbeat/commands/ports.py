"""``backbeat ports``: which MIDI systems work here, and the ports each one offers."""

from __future__ import annotations

import argparse

from backbeat.engine.errors import NoMidiApiError
from backbeat.engine.ports import DISPLAY, choose_api, list_ports, platform_apis, probe

from . import add_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(sub, "ports")
    parser.add_argument(
        "--midi-api", choices=("auto", "alsa", "jack", "coremidi", "winmm"), default="auto",
        help="only this MIDI system (default: every one this platform has)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    names = platform_apis() if args.midi_api == "auto" else (args.midi_api,)
    statuses = [probe(name) for name in names]
    if not any(s.usable for s in statuses):
        choose_api(args.midi_api)  # raises the one-line NoMidiApiError with the reasons and fixes
        raise NoMidiApiError("no MIDI API is usable")  # pragma: no cover (choose_api raised)
    for status in statuses:
        title = DISPLAY[status.name]
        if not status.usable:
            print(f"{title}: not usable: {status.detail}")
            continue
        outputs, inputs = list_ports(status.name)
        print(f"{title}:")
        print("  outputs (play into them with --port NAME, send clock with --clock-out NAME):")
        for name in outputs or ["(none: backbeat's own virtual port appears once it plays)"]:
            print(f"    {name}")
        print("  inputs (follow their clock with --follow-clock NAME):")
        for name in inputs or ["(none)"]:
            print(f"    {name}")
    return 0
