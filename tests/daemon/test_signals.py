"""SIGTERM (what systemd, launchd and `kill` send): `backbeat daemon` stops playback, panics, saves the
session and exits within 2 s — checked on the real command in a subprocess, through the engine's
recording of every message it sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from backbeat.daemon.client import DaemonClient, wait_until_ready
from backbeat.engine.monitor import read_record
from backbeat.engine.scheduler import PANIC_CONTROLLERS

LIMIT_S = 2.0


def start(tmp: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    sock, record = tmp / "d.sock", tmp / "engine.record"
    env = {
        **os.environ, "OUTPUT_DIR": str(tmp / "out"), "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_CONFIG_HOME": str(tmp / "config"), "BACKBEAT_SOCKET": str(sock),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "backbeat", "daemon", "--socket", str(sock), "--record", str(record)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,  # its own process group
    )
    if not wait_until_ready(sock, proc, poll=0.05):
        proc.kill()
        pytest.fail(f"the daemon did not start: {proc.stderr.read().decode(errors='replace')[-800:]}")
    return proc, sock, record


def terminate(proc: subprocess.Popen[bytes], *, group: bool = False) -> float:
    """SIGTERM to the daemon (or to its whole process group); seconds until the daemon has exited."""
    sent = time.perf_counter()
    if group:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(LIMIT_S + 3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the daemon was still running {LIMIT_S + 3:.0f} s after SIGTERM")
    return time.perf_counter() - sent


def notes_left_sounding(rows) -> Counter:
    sounding: Counter = Counter()
    for _, _, m in rows:
        if isinstance(m, str) or len(m) != 3:
            continue
        key = (m[0] & 0x0F, m[1])
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            sounding[key] += 1
        elif m[0] & 0xF0 == 0x80 or (m[0] & 0xF0 == 0x90 and m[2] == 0):
            assert sounding[key] > 0, f"a note-off for {key} that was not sounding"
            sounding[key] -= 1
    return +sounding


def panics_after_the_last_note(rows) -> int:
    """How many complete panics (CC 123, 120, 64 at 0 on all 16 channels) follow the last note message."""
    last_note = max((i for i, (_, _, m) in enumerate(rows) if not isinstance(m, str) and m[0] & 0xE0 == 0x80), default=-1)
    ccs = Counter(m for _, _, m in rows[last_note + 1:] if not isinstance(m, str) and m[0] & 0xF0 == 0xB0)
    wanted = [(0xB0 | ch, cc, 0) for ch in range(16) for cc in PANIC_CONTROLLERS]
    return min(ccs[m] for m in wanted)


def play_pads(sock: Path) -> None:
    """A song playing whole-bar pad chords, so notes are sounding whenever a signal comes."""
    with DaemonClient(sock) as c:
        c.request("generate", prompt="ambient, lush pads, slow", seed=11, bars=16)
        end = time.monotonic() + 10
        while (status := c.request("status"))["pipeline"]["running"] or not status["session"]["path"]:
            assert time.monotonic() < end
            time.sleep(0.02)
        c.request("play", section=1)  # the verse: pads and bass
    time.sleep(0.6)


@pytest.mark.parametrize("moment", ["idle", "composing", "playing"])
def test_sigterm_stops_panics_saves_and_exits_within_2s(tmp_path, moment):
    proc, sock, record = start(tmp_path)
    if moment == "playing":
        play_pads(sock)
    elif moment == "composing":
        with DaemonClient(sock) as c:
            c.request("generate", prompt="ambient, lush pads, slow", seed=11, bars=16, play=True)
    took = terminate(proc)
    stderr = proc.stderr.read().decode(errors="replace")
    print(f"SIGTERM while {moment}: exited in {took * 1000:.0f} ms")

    assert took <= LIMIT_S, f"exit took {took:.2f} s"
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr[-800:]
    assert "daemon stopped (every note ended)" in stderr
    rows = read_record(str(record))
    assert not notes_left_sounding(rows), "every note-on got its note-off"
    assert panics_after_the_last_note(rows) >= 1, "a panic on all 16 channels after the last note"
    if moment == "playing":
        stop_tick = next(t for t, _, m in rows if m == "stop")
        cut = [m for t, _, m in rows if t == stop_tick and not isinstance(m, str) and m[0] & 0xF0 == 0x80]
        assert cut, "notes were sounding when SIGTERM came, and the stop ended them (note-offs at the stop's tick)"
        assert not sock.exists(), "the socket file is removed"
        sessions = list((tmp_path / "out").glob("session-*"))
        assert len(sessions) == 1 and (sessions[0] / "song-state.json").is_file(), "the session folder is saved"
        assert str(sessions[0]) in (tmp_path / "state" / "backbeat" / "daemon.json").read_text(), "and remembered for the restart"


def test_sigterm_to_the_whole_process_group_still_ends_every_note_within_2s(tmp_path):
    """`kill -TERM -PGID`, or systemd with its default KillMode=control-group, signals the engine process
    too: it ends its own notes and exits, possibly before the daemon's panic reaches it — so only the
    note-offs are promised here. The unit `backbeat service install` writes uses KillMode=mixed (SIGTERM
    to the daemon alone), which keeps the full guarantee above."""
    proc, sock, record = start(tmp_path)
    play_pads(sock)
    took = terminate(proc, group=True)
    stderr = proc.stderr.read().decode(errors="replace")
    print(f"SIGTERM to the process group while playing: exited in {took * 1000:.0f} ms")
    assert took <= LIMIT_S and proc.returncode == 0 and "Traceback" not in stderr, stderr[-800:]
    assert not notes_left_sounding(read_record(str(record))), "every note-on got its note-off"
