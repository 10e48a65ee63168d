"""A private JACK server on the dummy driver (no sound hardware needed) and a JACK MIDI input client
that stamps arrival times, for benchmarks and the real-time tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

JACKD = shutil.which("jackd")


class JackError(RuntimeError):
    """jackd is missing or did not start."""


@contextmanager
def server(prefix: str = "backbeat", period: int = 64) -> Iterator[str]:
    """Run ``jackd -d dummy`` (``period`` frames at 48 kHz) under a unique name; this process's JACK
    clients (and its children, through the environment) use it. Raises JackError when jackd is
    missing or fails."""
    if JACKD is None:
        raise JackError("jackd is not installed (Debian/Ubuntu: apt-get install jackd2)")
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen([JACKD, "-n", name, "-d", "dummy", "-r", "48000", "-p", str(period)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        end = time.monotonic() + 10
        while subprocess.run(["jack_lsp"], capture_output=True).returncode != 0:
            if proc.poll() is not None or time.monotonic() > end:
                raise JackError(f"jackd did not start: {proc.stderr.read().decode(errors='replace')[-300:]}")
            time.sleep(0.1)
        yield name
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Receiver:
    """A JACK MIDI input client: every message with the time it arrived (``clock``, perf_counter by
    default; the Link benchmark stamps with Link's own clock).

    A reader thread drains rtmidi's queue every ``POLL_S`` instead of taking rtmidi's callback: the
    callback runs Python on JACK's process thread, which then waits for the GIL whenever another
    thread holds it and loses or garbles events (seen as a note-on missing in a busy test run).

    Arrival times: rtmidi's JACK input notes, on JACK's process thread, the JACK time of each cycle
    that delivers a message; ``get_message`` hands the differences over as delta times. Their running
    sum is the arrival on JACK's clock, less an unknown offset; the thread's own read stamps (``clock``)
    can only be later than the arrival, so the smallest (read stamp - running sum) within ``WINDOW_S``
    of a message is that offset there (the window keeps two clocks' slow drift out). What remains is
    the earliest read's lateness, a few microseconds, instead of a poll interval and the thread's
    wake-up delay on every stamp."""

    POLL_S = 0.0002
    WINDOW_S = 1.0

    def __init__(self, client: str, clock: Callable[[], float] = time.perf_counter) -> None:
        import rtmidi

        self.client, self.clock = client, clock
        self.midi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=client, queue_size_limit=65536)
        self.midi.ignore_types(sysex=False, timing=False, active_sense=False)
        self.received: list[tuple[float, tuple[int, ...]]] = []
        """(read stamp, message) as the reader thread got them."""
        self._jack: list[float] = []
        """Running sum of rtmidi's delta times, one per message of ``received``."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"receiver-{client}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.wait(self.POLL_S):
            while (got := self.midi.get_message()) is not None:
                stamp = self.clock()
                with self._lock:
                    self._jack.append((self._jack[-1] if self._jack else 0.0) + got[1])
                    self.received.append((stamp, tuple(got[0])))

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
        """(arrival time on ``clock``, message) of what was received (see the class docstring)."""
        with self._lock:
            received, jack = list(self.received), list(self._jack)
        offsets = [r - j for (r, _), j in zip(received, jack)]
        out, lo, hi = [], 0, 0
        window: deque[int] = deque()  # indices of [lo, hi) by increasing offset: a sliding minimum
        for i, ((_, message), j) in enumerate(zip(received, jack)):
            while hi < len(jack) and jack[hi] <= j + self.WINDOW_S:
                while window and offsets[window[-1]] >= offsets[hi]:
                    window.pop()
                window.append(hi)
                hi += 1
            while jack[lo] < j - self.WINDOW_S:
                lo += 1
            while window[0] < lo:
                window.popleft()
            if keep(message):
                out.append((j + offsets[window[0]], message))
        return out

    def wait_for(self, count: int, keep: Callable[[tuple[int, ...]], bool] = lambda m: True, timeout: float = 5.0) -> list:
        end = time.monotonic() + timeout
        while len(found := self.messages(keep)) < count and time.monotonic() < end:
            time.sleep(0.01)
        return found

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.midi.close_port()
        self.midi.delete()
