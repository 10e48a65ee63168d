"""One module per command (or family of commands); each defines ``register(subparsers)``.

A command's handler takes the parsed ``argparse.Namespace`` and returns the process exit code.
"""

COMMANDS = ("generate", "refine", "play", "daemon", "tui", "ports", "service", "midi", "bench")
"""Modules of this package registered, in help order."""
