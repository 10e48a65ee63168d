"""One module per command (or family of commands); each defines ``register(subparsers)``.

A command's handler takes the parsed ``argparse.Namespace`` and returns the process exit code.

``COMMANDS`` names every command, the module that registers it and its one-line help, in help
order. The command line imports only the module of the command being run (``backbeat status`` must
answer in milliseconds, not pay for the composer), so a module's top level imports only what its
``register`` needs; the work's imports go inside the handlers.
"""

from __future__ import annotations

import argparse

COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("generate", "compose a song from a prompt into a session folder"),
    "refine": ("refine", 'change a session: "bass too busy", "3rd chord darker", "tempo 96"'),
    "alternatives": ("refine", "make variants of a part to compare (A best match, B bolder, C another approach)"),
    "choose": ("refine", "make one of a part's alternatives the part"),
    "play": ("play", "play a prompt or a session folder in real time"),
    "daemon": ("daemon", "run the background service in the foreground"),
    "status": ("daemon", "what the daemon is playing"),
    "stop": ("daemon", "stop playback (every note ended)"),
    "start": ("daemon", "resume playback: from the section it stopped in"),
    "toggle": ("daemon", "stop when playing, start (resume) when stopped"),
    "panic": ("daemon", "end every note, all notes/sound off"),
    "shutdown": ("daemon", "stop playback and end the daemon"),
    "jump": ("daemon", "jump to a section at the next boundary"),
    "tempo": ("daemon", "change the tempo from the next bar"),
    "mute": ("daemon", "mute a part from the next bar"),
    "regenerate": ("daemon", "write a new version of a part; it lands at the next section"),
    "say": ("daemon", 'say it in words, as typed in the TUI: "bass too busy", "go to the chorus", "what key is this in?"'),
    "tui": ("tui", "the terminal UI of a running daemon (or --web: in a browser)"),
    "ports": ("ports", "list MIDI outputs and inputs for each usable MIDI system"),
    "doctor": ("doctor", "check this machine: Python, MIDI systems and ports, daemon, config, output, model server"),
    "service": ("service", "run the daemon in the background at login (install | uninstall)"),
    "midi": ("midi", "hex to .mid, merge, split and validate MIDI files"),
    "drum-map": ("drum_map", "show a session's drum map, or rewrite its drum files for another kit"),
    "bench": ("bench", "benchmarks: pipeline speed, engine timing, the live daemon, the command line"),
    "completion": ("completion", "print a shell completion script: backbeat completion bash|zsh|fish"),
}
"""command -> (module of this package that registers it, one-line help), in help order."""


def add_command(sub: argparse._SubParsersAction, name: str, **kwargs) -> argparse.ArgumentParser:
    """The sub-parser of ``name``, with its help from ``COMMANDS``."""
    return sub.add_parser(name, help=COMMANDS[name][1], **kwargs)
