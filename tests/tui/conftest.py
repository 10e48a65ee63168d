"""Fixtures of the TUI tests: a shared daemon per module, or one a test starts and kills itself."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import DaemonProcess


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One daemon shared by a module's tests (each test sets up the song it needs)."""
    d = DaemonProcess(tmp_path_factory.mktemp("tui"))
    d.start()
    yield d
    d.stop()


@pytest.fixture
def fresh_daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    """A daemon of its own, not started: the test starts, kills and restarts it."""
    d = DaemonProcess(tmp_path)
    yield d
    d.stop(signal.SIGKILL)
