"""Entry point of the ``backbeat`` console script: parse, dispatch, map errors to exit codes.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or input, 130 interrupted, 141 the reader of
stdout went away (``backbeat status | head``: quietly, as other Unix tools do). Errors are one line
on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .commands import COMMANDS

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 130, 141


class UsageError(ValueError):
    """The command line itself is wrong (raised by handlers for cross-argument checks)."""


class _Version(argparse.Action):
    """``--version``, reading the installed metadata only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit", default=argparse.SUPPRESS)

    def __call__(self, parser: argparse.ArgumentParser, *_args) -> None:
        from . import __version__

        parser.exit(message=f"backbeat {__version__}\n")


def build_parser(argv: Sequence[str] | None = None, *, every: bool = False) -> argparse.ArgumentParser:
    """The whole command line; only the module of the command in ``argv`` is imported and adds its
    options (the others are listed with their help, which is all ``--help`` shows of them). With
    ``every``, every module adds its commands' options (what a shell completion script is made from)."""
    parser = argparse.ArgumentParser(
        prog="backbeat",
        description="One sentence in; a song out of a MIDI port and into an MPC Beats session folder.",
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    words = sys.argv[1:] if argv is None else argv
    chosen = next((w for w in words if not w.startswith("-")), None)
    module = COMMANDS[chosen][0] if chosen in COMMANDS else None
    first: dict[str, str] = {}
    for name, (owner, _) in COMMANDS.items():
        first.setdefault(owner, name)
    for name, (owner, help_text) in COMMANDS.items():
        if owner != module and not every:
            sub.add_parser(name, help=help_text)
        elif first[owner] == name:  # the chosen command's module adds all of its commands, in place
            importlib.import_module(f".commands.{owner}", __package__).register(sub)
    return parser


def exit_code_for(error: BaseException) -> int:
    """2 for bad input (every package's input errors are ValueErrors), 1 for everything else."""
    return EXIT_USAGE if isinstance(error, ValueError) else EXIT_FAILURE


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _quiet_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush finds no closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        code = int(args.run(args) or EXIT_OK)
        sys.stdout.flush()  # here, not at exit: a closed pipe is then caught below
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        print("backbeat: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the one place a foreign error becomes a user's line
        if args.debug:
            import traceback

            traceback.print_exc()
        print(f"backbeat: error: {one_line(error)}", file=sys.stderr)
        return exit_code_for(error)

