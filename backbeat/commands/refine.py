"""``backbeat refine``, ``alternatives`` and ``choose``: iterate on a session folder.

    backbeat refine --session DIR "bass too busy"      # or --undo, --redo, --revert N, --history [--json]
    backbeat refine --session DIR --dry-run "slower, darker, and mute the lead"
    backbeat alternatives --session DIR bass -n 3
    backbeat choose --session DIR bass B
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import add_command
from .options import PARTS, user_path


def _print_reading(reading) -> None:
    """What the request was read as: each correction, then each change."""
    if reading is not None:
        for line in reading.lines():
            print(line)


def _print_revision(revision) -> None:
    _print_reading(getattr(revision, "reading", None))
    for note in revision.notes:
        print(note)
    if revision.files:
        print("rewrote: " + ", ".join(revision.files))


def _refine(args: argparse.Namespace) -> int:
    from backbeat.generators import revisions
    from backbeat.generators.errors import BadRequestError
    from backbeat.generators.requests import Question
    from backbeat.generators.session import load_song

    modes = [bool(args.text), args.undo, args.redo, args.revert is not None, args.history]
    if sum(modes) != 1:
        raise BadRequestError("give exactly one of: a request, --undo, --redo, --revert N, --history")
    if args.json and not args.history:
        raise BadRequestError("--json goes with --history (a change prints what it did, in lines)")
    if args.history:
        return _history(load_song(args.session), as_json=args.json)
    if args.undo or args.redo:
        _print_revision((revisions.redo if args.redo else revisions.undo)(args.session))
        return 0
    if args.revert is not None:
        _print_revision(revisions.revert(args.session, args.revert))
        return 0
    if args.dry_run:
        return _dry_run(args.session, " ".join(args.text))
    result = revisions.refine_folder(args.session, " ".join(args.text), read=_reader(args.offline))
    if isinstance(result, Question):
        print(f"? {result.text}")
        print("(nothing changed)")
        return EXIT_UNCHANGED
    _print_revision(result)
    return 0


EXIT_UNCHANGED = 2
"""A request that was not understood (a question back) changed nothing: bad input, as the command
line's exit codes go, so a script never takes it for a change made."""


def _history(song, *, as_json: bool) -> int:
    rows = [{"entry": i, "at": e.at, "action": e.action, "request": e.request, "targets": e.targets, "files": e.files}
            for i, e in enumerate(song.history, start=1)]
    if as_json:
        import json

        print(json.dumps({"session": song.session_id, "history": rows}, indent=2))
        return 0
    print("0  generated")
    for r in rows:
        print(f"{r['entry']}  {r['at']}  {r['action']:<12} {r['request']}  [{', '.join(r['targets'])}]")
    return 0


def _dry_run(folder: Path, text: str) -> int:
    """The reading of ``text`` and what it would change, with nothing written."""
    from backbeat.generators import revisions
    from backbeat.generators.errors import BadRequestError
    from backbeat.generators.requests import Question, read
    from backbeat.generators.session import load_song

    song = load_song(folder)
    reading = read(text, song)
    _print_reading(reading)
    if reading.problem:
        raise BadRequestError(reading.problem)
    if reading.question or not reading.changes:
        print(f"? {reading.question or 'What should change?'}")
        print("(dry run: nothing changed)")
        return EXIT_UNCHANGED
    elif not any(c.kind in ("undo", "redo", "revert") for c in reading.changes):
        proposal = revisions.revise(song, text, reading)
        if not isinstance(proposal, Question):
            for note in proposal.notes:
                print(f"would: {note}")
    print("(dry run: nothing changed)")
    return 0


def _reader(offline: bool):
    """How a request is read: by the rules, and by the model for what they miss (when configured)."""
    from backbeat.generators.settings import settings

    if offline or not settings().llm_configured:
        return None

    def read(text: str, song):
        import trio

        from backbeat.generators.llm.refining import understand

        return trio.run(lambda: understand(text, song, settings()))

    return read


def _alternatives(args: argparse.Namespace) -> int:
    from backbeat.generators import revisions

    revision = revisions.make_alternatives(args.session, args.part, args.n)
    if args.json:
        import json

        made = revision.song.alternatives[args.part][-args.n:]
        print(json.dumps({"part": args.part, "alternatives": [
            {"label": a.label, "approach": a.approach, "score": round(a.score, 4), "description": a.description} for a in made
        ]}, indent=2))
        return 0
    for line in revision.notes:
        print(line)
    print(f"choose one with: backbeat choose --session {args.session} {args.part} LABEL")
    return 0


def _choose(args: argparse.Namespace) -> int:
    from backbeat.generators import revisions

    _print_revision(revisions.choose_alternative(args.session, args.part, args.label))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    r = add_command(sub, "refine")
    r.add_argument("--session", type=user_path, required=True, metavar="DIR")
    r.add_argument("text", nargs="*", help="what to change, in words")
    r.add_argument("--undo", action="store_true", help="take back the last change (again: the one before it)")
    r.add_argument("--redo", action="store_true", help="bring back the last change undone")
    r.add_argument("--revert", type=int, metavar="N", help="go back to the song as it was after history entry N (0: as generated)")
    r.add_argument("--history", action="store_true", help="list the changes made so far")
    r.add_argument("--offline", action="store_true", help="read the request by the rules only, even when a model is configured")
    r.add_argument("--dry-run", action="store_true", help="print how the request is read and what it would change; change nothing")
    r.add_argument("--json", action="store_true", help="with --history: the history as JSON")
    r.set_defaults(run=_refine)

    a = add_command(sub, "alternatives")
    a.add_argument("--session", type=user_path, required=True, metavar="DIR")
    a.add_argument("part", choices=PARTS)
    a.add_argument("-n", type=int, default=3, help="how many (default 3)")
    a.add_argument("--json", action="store_true", help="the alternatives made, as JSON")
    a.set_defaults(run=_alternatives)

    c = add_command(sub, "choose")
    c.add_argument("--session", type=user_path, required=True, metavar="DIR")
    c.add_argument("part", choices=PARTS)
    c.add_argument("label", help="A, B, C, ...")
    c.set_defaults(run=_choose)
