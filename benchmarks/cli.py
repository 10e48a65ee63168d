"""How fast the command line answers (issue 9): thin clients against a bare interpreter.

Each round runs every case once, in the same order, as a fresh process: a bare ``python -c pass``,
``backbeat status`` with no daemon on its socket (the client's whole cost: start-up, imports, one
failed connect, the one-line error), ``backbeat --help``, ``backbeat jump chorus`` (also no daemon),
and the import of the daemon and of ``generate`` (the modules a long-running command pays for
once). Rounds alternate so a burst of load on a shared machine hits every case alike; the report
gives each case's median wall time and its ratio to the bare interpreter's median in the same run.
Goals: ``status`` ≤ 4× and ``--help`` ≤ 6× the bare interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"status": 4.0, "help": 6.0}
"""Largest median ratio to the bare interpreter that each thin case may take."""


def _backbeat() -> list[str]:
    """The console script beside this interpreter, as a user runs it (else ``python -m backbeat``)."""
    script = Path(sys.executable).with_name("backbeat")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "backbeat"]


def cases() -> dict[str, list[str]]:
    cli = _backbeat()
    return {
        "python": [sys.executable, "-c", "pass"],
        "status": [*cli, "status"],
        "help": [*cli, "--help"],
        "jump": [*cli, "jump", "chorus"],
        "import_daemon": [sys.executable, "-c", "import backbeat.daemon.main"],
        "import_generate": [sys.executable, "-c", "import backbeat.commands.generate"],
    }


def measure(rounds: int = 15) -> dict[str, object]:
    commands = cases()
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BACKBEAT_SOCKET": str(Path(tmp) / "none.sock")}  # no daemon answers there
        for name, command in commands.items():  # warm the file cache and the bytecode once
            subprocess.run(command, env=env, capture_output=True)
        for _ in range(rounds):
            for name, command in commands.items():
                started = time.perf_counter()
                subprocess.run(command, env=env, capture_output=True)
                times[name].append((time.perf_counter() - started) * 1000)
    medians = {name: statistics.median(values) for name, values in times.items()}
    bare = medians["python"]
    result: dict[str, object] = {"benchmark": "cli", "rounds": rounds}
    for name, median in medians.items():
        entry: dict[str, object] = {"median_ms": round(median, 1), "ratio": round(median / bare, 2)}
        if name in GOALS:
            entry |= {"goal_ratio": GOALS[name], "within_goal": median / bare <= GOALS[name]}
        result[name] = entry
    return result


def report(r: dict[str, object]) -> str:
    lines = [f"command line, medians of {r['rounds']} alternating rounds (ratio to a bare interpreter):"]
    for name in cases():
        entry = r[name]
        assert isinstance(entry, dict)
        goal = f"  goal ≤ {entry['goal_ratio']}× {'ok' if entry['within_goal'] else 'MISSED'}" if "goal_ratio" in entry else ""
        lines.append(f"  {name:<16} {entry['median_ms']:>8.1f} ms  {entry['ratio']:>6.2f}×{goal}")
    return "\n".join(lines)


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser("cli", help="how fast the thin clients and --help answer, against a bare interpreter")
    p.add_argument("--json", action="store_true")
    p.add_argument("--rounds", type=int, default=15)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    r = measure(args.rounds)
    print(json.dumps(r, indent=2) if args.json else report(r))
    return 0
