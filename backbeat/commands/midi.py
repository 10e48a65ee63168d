"""``backbeat midi``: hex to .mid, merge part files, split a multi-track file, validate files.

The work lives in ``generators.midi_edit`` and ``generators.midi_inspect``; this module only reads arguments and files, writes results
atomically and prints one line per result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backbeat.generators import midi_edit, midi_inspect
from backbeat.generators.errors import BadRequestError, MidiDataError
from backbeat.generators.files import MIDI_FILE_LIMIT, atomic_write, read_limited

from ..cli import EXIT_OK, EXIT_USAGE
from . import add_command
from .options import user_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "midi",
        description="Convert, merge, split and check Standard MIDI Files.",
    )
    actions = parser.add_subparsers(dest="midi_action", metavar="ACTION", required=True)

    hex2mid = actions.add_parser("hex2mid", help="write a .mid from a hex string")
    hex2mid.add_argument("hexfile", help="text file with the hex digits, or - for stdin")
    hex2mid.add_argument("out", type=user_path, help="the .mid to write")
    hex2mid.set_defaults(run=run_hex2mid)

    merge = actions.add_parser("merge", help="merge part files into one Format 1 file")
    merge.add_argument("out", type=user_path, help="the .mid to write")
    merge.add_argument("inputs", type=user_path, nargs="+", metavar="IN.mid")
    merge.set_defaults(run=run_merge)

    split = actions.add_parser("split", help="split a Format 1 file into one file per track")
    split.add_argument("input", type=user_path, metavar="IN.mid")
    split.add_argument("outdir", type=user_path, help="folder for the part files (created if missing)")
    split.set_defaults(run=run_split)

    validate = actions.add_parser("validate", help="check note pairing; exit 2 if any file is bad")
    validate.add_argument("files", type=user_path, nargs="+", metavar="FILE.mid")
    validate.add_argument("--drums", action="store_true", help="every note must be on channel 10")
    validate.set_defaults(run=run_validate)


def _read(path: Path) -> bytes:
    try:
        return read_limited(path, MIDI_FILE_LIMIT)
    except OSError as error:
        raise BadRequestError(f"cannot read {path}: {error.strerror or error}") from error


def run_hex2mid(args: argparse.Namespace) -> int:
    if args.hexfile == "-":
        text = sys.stdin.read()
    else:
        text = _read(Path(args.hexfile)).decode("utf-8", errors="replace")
    data = midi_edit.hex_to_midi(text)
    atomic_write(args.out, data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    return EXIT_OK


def run_merge(args: argparse.Namespace) -> int:
    data = midi_edit.merge([(path.stem, _read(path)) for path in args.inputs])
    atomic_write(args.out, data)
    print(f"wrote {args.out} ({len(args.inputs)} files merged)")
    return EXIT_OK


def run_split(args: argparse.Namespace) -> int:
    parts = midi_edit.split(_read(args.input))
    if not parts:
        raise MidiDataError(f"{args.input} has no track with notes or other channel messages")
    try:
        args.outdir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadRequestError(f"cannot create {args.outdir}: {error.strerror or error}") from error
    for name, data in parts:
        path = args.outdir / f"{name}.mid"
        atomic_write(path, data)
        print(f"wrote {path}")
    return EXIT_OK


def verdict(report: midi_inspect.MidiReport) -> str:
    """One line: what the file holds, or how many problems it has and the first of them."""
    if report.ok:
        channels = ",".join(map(str, report.channels)) or "none"
        return (f"ok: format {report.format}, {report.tracks} tracks, {report.notes} notes, "
                f"channels {channels}, {report.length_ticks} ticks at {report.ticks_per_beat} PPQ")
    count = len(report.problems)
    return f"INVALID: {count} problem{'s' if count > 1 else ''}, first: {report.problems[0]}"


def run_validate(args: argparse.Namespace) -> int:
    invalid = 0
    for path in args.files:
        try:
            line = verdict(midi_inspect.validate(_read(path), drums_channel_only=args.drums))
        except (MidiDataError, BadRequestError) as error:
            line = f"INVALID: {error}"
        invalid += line.startswith("INVALID")
        print(f"{path}: {line}")
    return EXIT_USAGE if invalid else EXIT_OK
