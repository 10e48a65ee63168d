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
    parser.add_argument("--json", action="store_true", help="every MIDI system, usable or not, with its ports, as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    names = platform_apis() if args.midi_api == "auto" else (args.midi_api,)
    statuses = [probe(name) for name in names]
    if args.json:
        import json

        listed = {s.name: list_ports(s.name) if s.usable else ([], []) for s in statuses}
        print(json.dumps({"apis": [
            {"api": s.name, "name": DISPLAY[s.name], "usable": s.usable, "detail": s.detail,
             "outputs": listed[s.name][0], "inputs": listed[s.name][1]} for s in statuses
        ]}, indent=2))
        return 0 if any(s.usable for s in statuses) else 1
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
