"""The thin clients import only what they use (issue 9): a producer binds ``backbeat jump chorus``
to a key, and every module the command does not need is start-up time they feel.

Checked by what a fresh interpreter has imported after running the command, not by a clock, so the
test holds on a loaded machine; ``backbeat bench cli`` measures the time itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("trio", "pydantic", "pydantic_settings", "httpx", "textual", "mido", "rtmidi", "backbeat.generators",
         "backbeat.engine", "backbeat.tui", "backbeat.benchmarks", "backbeat.daemon.protocol", "backbeat.daemon.server")
"""What no thin client may load: the async runtimes, validation, the composer, the engine, the UI."""

PROBE = """
import json, sys
from backbeat.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported_by(*argv: str, socket: Path) -> tuple[int, set[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                         env={"BACKBEAT_SOCKET": str(socket), "PATH": "/usr/bin:/bin"}).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["code"], set(result["modules"])


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("argv", [
    ("status",), ("status", "--json"), ("stop",), ("panic",), ("shutdown",), ("jump", "chorus"), ("jump", "2", "--bar"),
    ("tempo", "96"), ("mute", "bass"), ("regenerate", "drums"), ("start",), ("toggle",), ("say", "bass too busy"),
    ("--help",), ("status", "--help"), ("--version",),
])
def test_a_thin_client_loads_no_heavy_module(argv: tuple[str, ...], tmp_path: Path):
    code, modules = imported_by(*argv, socket=tmp_path / "none.sock")
    assert code in (0, 1, None), "a missing daemon is a runtime failure (1), help and version exit 0"
    assert heavy(modules) == []


def test_help_lists_every_command_without_importing_their_modules(tmp_path: Path):
    from backbeat.commands import COMMANDS

    out = subprocess.run([sys.executable, "-m", "backbeat", "--help"], capture_output=True, text=True).stdout
    assert all(f"    {name}" in out for name in COMMANDS)
    _, modules = imported_by("--help", socket=tmp_path / "none.sock")
    assert not {m for m in modules if m.startswith("backbeat.commands.")}


def test_ports_needs_the_midi_library_and_nothing_of_the_composer(tmp_path: Path):
    _, modules = imported_by("ports", "--help", socket=tmp_path / "none.sock")
    assert not [m for m in modules if m.split(".")[0] in ("trio", "pydantic", "httpx", "textual")
                or m.startswith("backbeat.generators")]


def test_the_command_being_run_still_gets_all_its_options():
    out = subprocess.run([sys.executable, "-m", "backbeat", "jump", "--help"], capture_output=True, text=True).stdout
    assert "--bar" in out and "--socket" in out
    bad = subprocess.run([sys.executable, "-m", "backbeat", "mute", "cowbell"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'cowbell'" in bad.stderr
