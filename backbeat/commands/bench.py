"""``backbeat bench pipeline|timing|music|daemon|refine|swaps|llm|cli|link|soak [--json]``: run a benchmark and report what it measured."""

from __future__ import annotations

import argparse
import json

from . import add_command


def _pipeline(args: argparse.Namespace) -> int:
    from backbeat.benchmarks import pipeline

    result = pipeline.measure(runs=args.runs, bars=args.bars)
    print(json.dumps(result, indent=2) if args.json else pipeline.report(result))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(sub, "bench")
    which = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    p = which.add_parser("pipeline", help="time the algorithmic pipeline on a 64-bar, 4-part song")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--bars", type=int, default=64)
    p.set_defaults(run=_pipeline)

    from backbeat.benchmarks import cli, daemon, link, llm, music, refine, soak, swaps, timing  # each defines its own options

    timing.register(which)
    music.register(which)
    daemon.register(which)
    refine.register(which)
    swaps.register(which)
    llm.register(which)
    cli.register(which)
    link.register(which)
    soak.register(which)
