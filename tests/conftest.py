"""Hermetic by construction: the suite never reaches the user's own daemon, config or state.

Before any test module is imported, every per-user location backbeat reads (the socket, the runtime,
state and config folders) points into one temporary folder of this run, so a daemon a test starts,
and every ``backbeat`` subprocess, finds only what the test made. Two guards prove it:

* connecting to the real default socket from this process fails the test that did it;
* a decoy daemon runs on the real default socket for the whole session (unless one already runs
  there, or ``BACKBEAT_TEST_DECOY=0``), so a subprocess that ignored the redirection would talk to
  a daemon with no song and fail its test instead of passing by luck.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_REAL_SOCKET: Path | None = None
_SANDBOX: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _REAL_SOCKET, _SANDBOX
    from backbeat.daemon.address import default_socket  # trio-free; computes from the environment

    os.environ.pop("BACKBEAT_SOCKET", None)
    _REAL_SOCKET = default_socket()
    _SANDBOX = Path(tempfile.mkdtemp(prefix="backbeat-tests-"))
    for name in ("run", "state", "config", "cache", "output"):
        (_SANDBOX / name).mkdir(mode=0o700)
    os.environ.update({
        "BACKBEAT_SOCKET": str(_SANDBOX / "run" / "backbeat.sock"),
        "XDG_RUNTIME_DIR": str(_SANDBOX / "run"),
        "XDG_STATE_HOME": str(_SANDBOX / "state"),
        "XDG_CONFIG_HOME": str(_SANDBOX / "config"),
        "XDG_CACHE_HOME": str(_SANDBOX / "cache"),
        "OUTPUT_DIR": str(_SANDBOX / "output"),
    })


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SANDBOX is not None:
        shutil.rmtree(_SANDBOX, ignore_errors=True)


def real_default_socket() -> Path:
    """Where a daemon of the user running the tests listens (what the suite must never touch)."""
    assert _REAL_SOCKET is not None
    return _REAL_SOCKET


@pytest.fixture(autouse=True)
def _no_default_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test that connects to the real default socket from this process."""
    real = str(real_default_socket())
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse(address: object) -> None:
        if isinstance(address, (str, bytes)) and os.fsdecode(address) == real:
            pytest.fail(f"a test connected to the user's default daemon socket {real}; use its own (BACKBEAT_SOCKET)")

    def guarded_connect(self: socket.socket, address: object) -> None:
        refuse(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        refuse(address)
        return connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            socket.socket.connect(s, str(path))  # the unguarded one: this is the guard itself asking
        except OSError:
            return False
    return True


@pytest.fixture(scope="session", autouse=True)
def decoy_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """A real daemon on the user's default socket while the suite runs (none is started when one
    already answers there, on Windows, or with ``BACKBEAT_TEST_DECOY=0``)."""
    real = real_default_socket()
    if os.environ.get("BACKBEAT_TEST_DECOY") == "0" or sys.platform == "win32" or _answers(real):
        yield None
        return
    folder = tmp_path_factory.mktemp("decoy")
    env = {**os.environ, "OUTPUT_DIR": str(folder / "out"), "XDG_STATE_HOME": str(folder / "state")}
    env.pop("BACKBEAT_SOCKET")
    proc = subprocess.Popen(
        [sys.executable, "-m", "backbeat", "daemon", "--socket", str(real), "--midi-api", "null"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield real
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
