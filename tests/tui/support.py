"""Helpers of the TUI tests: a real daemon in a subprocess (``backbeat daemon --midi-api null``), waits.

Textual is asyncio-only, so these tests are plain sync functions that call ``asyncio.run``; the
daemon runs as its own process, as it does for a user, with its output, state and config folders
inside the test's tmp folder and no LLM configured (the algorithmic generators answer at once).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from backbeat.daemon.client import DaemonClient
from backbeat.daemon.framing import Decoder

FAST_SONG = "pop song at 300 bpm"
"""A prompt whose explicit tempo makes a bar 0.8 s, so bars, swaps and jumps come quickly."""
TEST_BACKOFF = (0.05, 0.1, 0.2)
"""Reconnect backoff for tests (the real one grows to 2 s)."""


def _answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(path))
            decoder = Decoder()
            decoder.feed(s.recv(4096))
            return any(frame.get("type") == "hello" for frame in decoder)
    except OSError:
        return False


class DaemonProcess:
    """``backbeat daemon`` on a socket in ``folder``; start, stop, kill and start again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "d.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "BACKBEAT_"))}
        self.env.update(
            OUTPUT_DIR=str(folder / "out"), XDG_STATE_HOME=str(folder / "state"),
            XDG_CONFIG_HOME=str(folder / "config"), XDG_CACHE_HOME=str(folder / "cache"),
        )

    def start(self, timeout: float = 15.0) -> None:
        log = open(self.folder / "daemon.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backbeat", "daemon", "--socket", str(self.socket), "--midi-api", "null"],
            cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not _answers(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the daemon did not come up: {(self.folder / 'daemon.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        """One protocol request through the blocking client (run it in a thread from async code)."""
        with DaemonClient(self.socket, timeout=5.0) as client:
            return client.request(cmd, **args)


async def until(pause: Callable[[float], Awaitable[Any]], check: Callable[[], Any], what: str, timeout: float = 8.0) -> Any:
    """Wait (pausing the pilot) until ``check()`` is truthy; fail with ``what`` after ``timeout`` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pause(0.05)
    return result


def run(coro: Awaitable[Any], timeout: float = 30.0) -> Any:
    """Run one async test body with an overall limit."""
    return asyncio.run(asyncio.wait_for(coro, timeout))
