"""A private JACK server (dummy driver) for the real-time tests, and a JACK client that listens.

The dummy driver needs no sound hardware. Its frame clock drifts against wall time on a loaded VM,
so timing is judged by ``time.perf_counter`` stamps taken in the receiver's callback (the same
clock the engine's deadlines are on), with loose bounds: JACK delivers MIDI once per period.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

JACKD = shutil.which("jackd")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def jack_server() -> Iterator[str]:
    """A running ``jackd -d dummy`` with a unique name; JACK clients of this process use it."""
    if JACKD is None:
        pytest.skip("jackd is not installed (Debian/Ubuntu: apt-get install jackd2): no real MIDI subsystem to test against")
    name = unique("backbeat-test")
    server = subprocess.Popen(
        [JACKD, "-n", name, "-d", "dummy", "-r", "48000", "-p", "64"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        end = time.monotonic() + 10
        while subprocess.run(["jack_lsp"], capture_output=True).returncode != 0:
            if server.poll() is not None or time.monotonic() > end:
                pytest.fail(f"jackd did not start: {server.stderr.read().decode(errors='replace')[-500:]}")
            time.sleep(0.1)
        yield name
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class Receiver:
    """A JACK MIDI input client: every message with the perf_counter time it arrived."""

    def __init__(self, client: str) -> None:
        import rtmidi

        self.client = client
        self.midi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=client)
        self.midi.ignore_types(sysex=False, timing=False, active_sense=False)
        self.received: list[tuple[float, tuple[int, ...]]] = []
        self._lock = threading.Lock()
        self.midi.set_callback(self._on_message)

    def _on_message(self, event: tuple[list[int], float], _data: object) -> None:
        stamp = time.perf_counter()
        with self._lock:
            self.received.append((stamp, tuple(event[0])))

    def listen_virtual(self, port: str = "in") -> str:
        """Open our own input port (for the engine to find by name); returns its full name."""
        self.midi.open_virtual_port(port)
        return f"{self.client}:{port}"

    def connect_from(self, pattern: str, timeout: float = 3.0) -> None:
        """Connect our input to the output whose name contains ``pattern``."""
        end = time.monotonic() + timeout
        while True:
            names = self.midi.get_ports()
            match = [i for i, n in enumerate(names) if pattern in n]
            if match:
                self.midi.open_port(match[0], "in")
                time.sleep(0.05)  # JACK connects at the next graph reorder
                return
            if time.monotonic() > end:
                raise AssertionError(f"no output matching {pattern!r} among {names}")
            time.sleep(0.05)

    def messages(self, keep: Callable[[tuple[int, ...]], bool] = lambda m: True) -> list[tuple[int, ...]]:
        with self._lock:
            return [m for _, m in self.received if keep(m)]

    def stamped(self, keep: Callable[[tuple[int, ...]], bool] = lambda m: True) -> list[tuple[float, tuple[int, ...]]]:
        with self._lock:
            return [(t, m) for t, m in self.received if keep(m)]

    def wait_for(self, count: int, keep: Callable[[tuple[int, ...]], bool] = lambda m: True, timeout: float = 5.0) -> list:
        end = time.monotonic() + timeout
        while len(found := self.messages(keep)) < count and time.monotonic() < end:
            time.sleep(0.01)
        return found

    def close(self) -> None:
        self.midi.close_port()
        self.midi.delete()


@pytest.fixture
def receiver(jack_server: str) -> Iterator[Receiver]:
    r = Receiver(unique("recv"))
    yield r
    r.close()


def is_note(m: tuple[int, ...]) -> bool:
    return len(m) == 3 and m[0] & 0xE0 == 0x80


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(step)
    return True
