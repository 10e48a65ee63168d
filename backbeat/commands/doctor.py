"""``backbeat doctor [--json]``: one line per check with its fix; exit 0 when nothing fails, else 1."""

from __future__ import annotations

import argparse
import json

from . import add_command


def _run(args: argparse.Namespace) -> int:
    from backbeat import doctor

    checks = doctor.run()
    if args.json:
        print(json.dumps({"healthy": doctor.healthy(checks), "checks": doctor.as_json(checks)}, indent=2))
    else:
        for check in checks:
            print(check.line())
    return 0 if doctor.healthy(checks) else 1


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(sub, "doctor")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=_run)
