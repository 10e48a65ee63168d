"""A private JACK server on the dummy driver (no sound hardware needed) and a JACK MIDI input client
that stamps arrival times, for benchmarks and the real-time tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from backbeat.daemon.client import end_process

JACKD = shutil.which("jackd")


SERVER_OPTIONS = ("-S", "-t", "20")
"""Synchronous mode with a 20 ms client timeout. In JACK2's default asynchronous mode the driver
starts the next cycle on time whether or not every client has finished the last one: a client that
runs a period late reads a port buffer its sender has already cleared for the next cycle, and a
sender that runs late runs twice back to back, clearing what it wrote before anyone read it. A
period's MIDI is then lost without a trace at the sender (measured on this 2-core VM at 64-frame
periods: about one event in 4,000 under CPU load, at one receiver or at both, each next to jackd's
"client ... was not finished"). In synchronous mode the driver waits for the graph, up to ten
timeouts (200 ms), before it starts the next cycle, so a late client delays a period instead of
losing it: what the tests and benchmarks check is what the engine sent, not how a loaded VM
schedules JACK. The timeout is short because a client killed in the middle of the graph (the fault
tests kill engines) stalls the server about that long: 0.4-0.6 s here, 5-10 s at 500 ms."""

TOO_MANY = "Too many servers already active"
"""jackd's complaint when the machine's eight server slots are taken by other test runs: wait for
one to free. (A jackd killed with SIGKILL keeps its slot until a server of the same name starts
again: stop servers with ``Server.stop``, which lets jackd unregister.)"""


class JackError(RuntimeError):
    """jackd is missing or did not start."""


class Server:
    """A running jackd: its name, and what it said on stderr (read all the time: a full pipe would
    block jackd's own threads, which log every xrun)."""

    def __init__(self, name: str, proc: subprocess.Popen) -> None:
        self.name, self.proc = name, proc
        self.lines: deque[str] = deque(maxlen=500)
        self.xruns = 0
        """How many times jackd reported a client that missed its cycle, or a late cycle."""
        self._reader = threading.Thread(target=self._read, name=f"jackd-{name}-stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if "XRun" in line:
                self.xruns += 1

    def __str__(self) -> str:
        return self.name

    def stop(self) -> None:
        """End jackd as a user does (SIGTERM): its clients hear that the server went away."""
        end_process(self.proc)

    def start(self) -> None:
        """Start jackd again under the same name, after ``stop``."""
        self.proc = subprocess.Popen(self.proc.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, name=f"jackd-{self.name}-stderr", daemon=True)
        self._reader.start()
        if not _started(self):
            raise JackError(f"jackd did not start again: {' / '.join(self.lines)[-300:]}")


@contextmanager
def server(prefix: str = "backbeat", period: int = 64) -> Iterator[Server]:
    """Run ``jackd -d dummy`` (``period`` frames at 48 kHz) under a unique name; this process's JACK
    clients (and its children, through the environment) use it. Raises JackError when jackd is
    missing or fails."""
    if JACKD is None:
        raise JackError("jackd is not installed (Debian/Ubuntu: apt-get install jackd2)")
    end = time.monotonic() + 30
    while True:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        proc = subprocess.Popen([JACKD, "-n", name, *SERVER_OPTIONS, "-d", "dummy", "-r", "48000", "-p", str(period)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        running = Server(name, proc)
        if not _started(running):
            proc.wait()
            running._reader.join(1)
            if any(TOO_MANY in line for line in running.lines) and time.monotonic() < end:
                time.sleep(0.5)
                continue
            raise JackError(f"jackd did not start: {' / '.join(running.lines)[-300:]}")
        break
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        yield running
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        running.stop()


def _started(server: Server, timeout: float = 10.0) -> bool:
    """Wait until ``server`` answers (False if it exited or did not answer in time; it is then ended)."""
    end = time.monotonic() + timeout
    env = {**os.environ, "JACK_DEFAULT_SERVER": server.name, "JACK_NO_START_SERVER": "1"}
    while subprocess.run(["jack_lsp"], capture_output=True, env=env).returncode != 0:
        if server.proc.poll() is not None:
            return False
        if time.monotonic() > end:
            server.proc.kill()
            return False
        time.sleep(0.1)
    return True


class Receiver:
    """A JACK MIDI input client: every message with the time it arrived (``clock``, perf_counter by
    default; the Link benchmark stamps with Link's own clock).

    A reader thread drains rtmidi's queue every ``POLL_S`` instead of taking rtmidi's callback: the
    callback runs Python on JACK's process thread, which then waits for the GIL whenever another
    thread holds it, and a receiver that misses its cycle misses that period's MIDI unless the
    server runs synchronously (``SERVER_OPTIONS``).

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

    def first_note_ms(self, seen: int, t0: float, timeout: float = 5.0) -> float | None:
        """Milliseconds from ``t0`` (on ``clock``) to the first note-on after the first ``seen``
        messages, waiting up to ``timeout`` seconds for it; None if none came."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ons = [t for t, m in self.stamped()[seen:] if m[0] & 0xF0 == 0x90 and m[2] > 0]
            if ons:
                return (ons[0] - t0) * 1000
            time.sleep(0.002)
        return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.midi.close_port()
        self.midi.delete()


class Dump:
    """``jack_midi_dump`` as a second, independent receiver (plain C, none of rtmidi's code): every
    channel message it printed, in order."""

    def __init__(self, client: str) -> None:
        self.client = client
        # stdbuf: line-buffered, so what it received can be read while it runs (a pipe is block-buffered)
        line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        self.proc = subprocess.Popen([*line_buffered, "jack_midi_dump", "-a", client], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.input = f"{client}:input"
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, name=f"dump-{client}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        while self.input.encode() not in subprocess.run(["jack_lsp"], capture_output=True).stdout:
            if time.monotonic() > end:
                raise AssertionError(f"{self.input} did not appear")
            time.sleep(0.05)

    def connect_from(self, port: str) -> None:
        self.wait_ready()
        subprocess.run(["jack_connect", port, self.input], check=True, capture_output=True)

    def messages(self) -> list[tuple[int, ...]]:
        """Every message printed so far (``jack_midi_dump -a`` prints ``time: hex bytes``); all of
        them once ``close`` has returned."""
        out = []
        for line in list(self.lines):
            stamp, sep, rest = line.partition(":")
            if not sep or not stamp.strip().isdigit():
                continue
            data = []
            for token in rest.split():  # the hex bytes, then a description ("note on (channel 0)...")
                if len(token) != 2 or any(c not in "0123456789abcdef" for c in token):
                    break
                data.append(int(token, 16))
            out.append(tuple(data))
        return out

    def close(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(2)
