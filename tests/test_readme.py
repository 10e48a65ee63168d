"""Everything the README shows works as shown (issue 15): every ``sh`` block is marked, and every one
that needs no hardware runs, line by line, in this suite's sandbox — the ``daemon`` blocks against
a real daemon (``--midi-api null``) — and every line must succeed. The README stands alone: its
links stay inside the repository.

A block is marked by an HTML comment on the line before it: ``<!-- readme-test: run -->``,
``<!-- readme-test: daemon -->`` (a daemon runs meanwhile) or ``<!-- readme-test: skip (why) -->``.
``DIR`` in a line is a session folder the test made; the README's example session path
(``output/session-...``) is made to exist, as it would after a ``generate``.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest

from backbeat.daemon.client import DaemonClient, end_process
from tests.daemon.conftest import start_daemon_process

README = Path(__file__).resolve().parents[1] / "README.md"
MARK = re.compile(r"<!-- readme-test: (run|daemon|skip)\b(.*?)-->")
EXAMPLE_SESSION = "output/session-20261121-094512-a1b2"


def blocks() -> list[tuple[int, str, list[str]]]:
    """(line number, mode, command lines) of every ``sh`` block, in order."""
    lines = README.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            mark = MARK.fullmatch(before)
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            body = [line for line in lines[i + 1:end] if line.strip() and not line.lstrip().startswith("#")]
            found.append((i + 1, mark.group(1) if mark else "", body))
            i = end
        i += 1
    return found


def test_every_sh_block_is_marked():
    unmarked = [number for number, mode, _ in blocks() if not mode]
    assert not unmarked, f"README.md lines {unmarked}: mark each sh block run, daemon or skip (with why)"


def test_the_readme_links_only_inside_the_repository():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)]+)\)", text)
    assert targets, "the README links its docs"
    for target in targets:
        assert not re.match(r"[a-z]+://", target), f"{target}: the README stands alone"
        assert (README.parent / target.split("#")[0]).exists(), f"{target} is not in the repository"
    assert "DESIGN.md" not in text
    for doc in (README.parent / "docs").glob("*.md"):
        assert "DESIGN.md" not in doc.read_text(encoding="utf-8"), f"{doc.name} refers outside the repository"


def test_the_readme_names_only_commands_the_cli_has():
    from backbeat.commands import COMMANDS

    named = set(re.findall(r"`backbeat ([a-z-]+)", README.read_text(encoding="utf-8")))
    named |= {line.split()[1] for _, _, body in blocks() for line in body if line.startswith("backbeat ")}
    named.discard("out")  # `backbeat out`: the CoreMIDI port's name, not a command
    assert named <= set(COMMANDS), f"the README shows commands the CLI lacks: {sorted(named - set(COMMANDS))}"


def _wait_for_song(socket: Path, prompt: str) -> None:
    """What a person does after `backbeat play PROMPT`: the next command comes once the song is there."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        with DaemonClient(socket) as client:
            status = client.request("status")
        if (session := status["session"]) and session["prompt"] == prompt and not status["pipeline"]["running"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"the daemon never had the song {prompt!r}: {status['session']} {status['pipeline']} {status['save_error']}")


def run_line(line: str, capsys) -> tuple[int, str]:
    """One README line as backbeat's ``main`` runs it (in this process: no interpreter start-up per
    line), with a ``> FILE`` redirect as the shell would do it; (exit code, stderr)."""
    from backbeat import cli

    words = shlex.split(line, comments=True)
    target = None
    if ">" in words:
        at = words.index(">")
        words, target = words[:at], words[at + 1]
    assert words[0] == "backbeat", line
    try:
        code = cli.main(words[1:])
    except SystemExit as e:  # argparse refusing the line
        code = int(e.code or 0)
    captured = capsys.readouterr()
    if target is not None:
        Path(target).write_text(captured.out)
    return code, captured.err


def test_every_command_block_runs_as_shown(tmp_path, capsys, monkeypatch):
    from backbeat.generators import settings

    sandbox = tmp_path / "sandbox"
    (sandbox / "home").mkdir(parents=True)
    monkeypatch.chdir(sandbox)
    monkeypatch.setenv("HOME", str(sandbox / "home"))
    monkeypatch.delenv("OUTPUT_DIR")  # the default, ./output, as the README's paths show it
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # --ask: end of input means yes
    for name in [k for k in os.environ if k.startswith("LLM_")]:
        monkeypatch.delenv(name)
    settings.settings.cache_clear()
    daemon = start_daemon_process(tmp_path / "daemon")
    monkeypatch.setenv("BACKBEAT_SOCKET", str(daemon.socket))
    ran = 0
    try:
        code, _ = run_line('backbeat generate "pop song, uplifting" --seed 5 --bars 8', capsys)
        folder = next((sandbox / "output").glob("session-*"))
        shutil.copytree(folder, sandbox / EXAMPLE_SESSION)
        for number, mode, body in blocks():
            if mode == "skip":
                continue
            assert mode == "run" or daemon.proc.poll() is None, f"README.md line {number}: the daemon is gone"
            for line in body:
                code, err = run_line(re.sub(r"\bDIR\b", str(folder), line), capsys)
                assert code == 0, f"README.md block at line {number}: {line}\n{err[-1500:]}"
                ran += 1
                if (m := re.match(r'backbeat play "([^"]+)"', line)) and mode == "daemon":
                    _wait_for_song(daemon.socket, m.group(1))
    finally:
        end_process(daemon.proc)
        settings.settings.cache_clear()
    assert ran >= 25, "the README's command blocks ran"
    assert (sandbox / "home" / "Music" / "backbeat").is_dir(), "~ in --out is the home folder"
    assert (sandbox / "backbeat.bash").stat().st_size > 0
