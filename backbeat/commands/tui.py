"""``backbeat tui [--socket PATH] [--web [--host H] [--port P]]``: the terminal UI, or the same app in a
browser through textual-serve. It attaches to a running daemon and never starts one: with no daemon
it opens anyway and keeps retrying. Quitting it never stops the music."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from . import add_command
from .options import user_path


def _run(args: argparse.Namespace) -> int:
    if not args.web and (args.host is not None or args.port is not None):
        from backbeat.cli import UsageError

        raise UsageError("--host and --port go with --web")
    if args.web:
        return _serve(args)
    from backbeat.tui.app import BackbeatApp

    BackbeatApp(args.socket).run()
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Serve the TUI over HTTP: every browser tab runs its own ``backbeat tui`` process."""
    from textual_serve.server import Server

    command = [sys.executable, "-m", "backbeat", "tui"]
    if args.socket is not None:
        command += ["--socket", str(args.socket.expanduser().resolve())]
    from backbeat import tui

    page = Path(tui.__file__).parent / "web"  # backbeat's own page: focused at once, nothing from outside
    Server(shlex.join(command), host=args.host or "localhost", port=args.port or 8000, title="backbeat",
           templates_path=page).serve()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(sub, "tui")
    parser.add_argument("--socket", type=user_path, help="daemon socket (default: BACKBEAT_SOCKET or the user runtime dir)")
    parser.add_argument("--web", action="store_true", help="serve the TUI in a browser (textual-serve)")
    parser.add_argument("--host", help="with --web: address to listen on (default: localhost)")
    parser.add_argument("--port", type=int, help="with --web: port to listen on (default: 8000)")
    parser.set_defaults(run=_run)
