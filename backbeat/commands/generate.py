"""``backbeat generate``: one prompt to a session folder, progress on stderr, the path on stdout.

With a language model configured (and no ``--offline``) the stages are the model's, each falling
back to its algorithm; ``--no-cache`` asks the model again instead of reusing cached answers.
``--ask`` pauses after each creative stage for an answer typed at the terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import trio

from backbeat.generators import gates, pipeline
from backbeat.generators.errors import BadRequestError, GeneratorError
from backbeat.generators.llm.stages import backend_for
from backbeat.generators.settings import settings

from . import add_command
from .options import user_path

_MARK = {"start": "→", "done": "✓", "retry": "↻", "failed": "✗"}


def print_progress(p: pipeline.Progress) -> None:
    timing = f" ({p.duration_ms:.1f} ms)" if p.status == "done" else ""
    print(f"{_MARK[p.status]} Stage {p.index}: {p.message}{timing}", file=sys.stderr, flush=True)


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(sub, "generate")
    parser.add_argument("prompt", nargs="?", help='e.g. "Frank Ocean meets Burial, late-night vibes"')
    parser.add_argument("--out", type=user_path, help="folder for session folders (default: OUTPUT_DIR)")
    parser.add_argument("--seed", type=int, help="same seed, same song (default: random, recorded in the session)")
    parser.add_argument("--bars", type=int, help="total length in bars (1-1024)")
    parser.add_argument("--offline", action="store_true", help="use the algorithmic generators even when an LLM is configured")
    parser.add_argument("--no-cache", action="store_true", help="ask the language model again instead of reusing cached answers")
    parser.add_argument("--resume", type=user_path, metavar="DIR", help="continue an interrupted run from its .partial folder")
    parser.add_argument("--drum-map", metavar="NAME", help="write drums.mid for a kit: gm, mpc-legacy (MPC factory kits), mpc-chromatic (default: settings)")
    parser.add_argument("--ask", action="store_true", help="after intent, harmony, arrangement and parts, ask: keep, alternative, edit or quit")
    parser.set_defaults(run=run)


_ASK = "  keep it? [Y]es / [a]lternative / [e]dit <change, e.g. e key D minor> / [q]uit: "


def terminal_gate() -> gates.Ask:
    """An approval gate answered at the terminal (end of input means yes, as piping in answers does)."""
    seen: set[str] = set()

    def read() -> str | None:
        print(_ASK, end="", file=sys.stderr, flush=True)
        try:
            return input()
        except EOFError:
            print(file=sys.stderr)
            return None

    async def ask(stage: str, draft: pipeline.Draft, problem: str | None) -> gates.Answer:
        if problem:
            print(f"  ✗ {problem}", file=sys.stderr)
        elif stage in seen:  # after an alternative or an edit: show what it is now
            summary = next(s for s in pipeline.STAGES if s.name == stage).summary(draft)
            print(f"  now: {summary}", file=sys.stderr)
        seen.add(stage)
        while True:
            try:
                return gates.read_answer(await trio.to_thread.run_sync(read))
            except BadRequestError as e:
                print(f"  ✗ {e}", file=sys.stderr)

    return ask


def run(args: argparse.Namespace) -> int:
    if args.resume is not None:
        if args.prompt or args.seed is not None or args.bars is not None or args.drum_map is not None:
            raise BadRequestError("--resume continues a run as it was started: give no prompt, --seed, --bars or --drum-map")
        draft, folder, out = pipeline.load_draft(args.resume), args.resume, args.resume.parent
    else:
        if args.prompt is None:
            raise BadRequestError("give a prompt, or --resume DIR")
        draft = pipeline.new_draft(args.prompt, seed=args.seed, bars=args.bars, drum_map=args.drum_map or settings().drum_map)
        folder, out = None, args.out or settings().output_dir
    attempts = settings().stage_attempts

    async def compose() -> Path:
        async with backend_for(settings(), offline=args.offline, no_cache=args.no_cache) as backend:
            return await pipeline.run(draft, out, attempts=attempts, on_progress=print_progress, folder=folder, backend=backend,
                                      compose=gates.with_gates(terminal_gate()) if args.ask else None)

    try:
        path = trio.run(compose)
    except gates.Stop as stop:
        partial = folder or pipeline.session.partial_path(Path(out), draft.session_id)
        print(f"backbeat: {stop}; resume with: backbeat generate --resume {partial}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, GeneratorError):  # a run that broke mid-way: its folder is named, with the way on
        partial = folder or pipeline.session.partial_path(Path(out), draft.session_id)
        if (partial / pipeline.session.CHECKPOINT).is_file():
            print(f"backbeat: resume with: backbeat generate --resume {partial}", file=sys.stderr)
        raise
    print(path)
    return 0
