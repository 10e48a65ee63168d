"""One module per command (or family of commands); each defines ``register(subparsers)``.

A command's handler takes the parsed ``argparse.Namespace`` and returns the process exit code.
"""

COMMANDS = ("generate", "play", "daemon", "ports", "midi", "bench")
"""Modules of this package registered, in help order."""
