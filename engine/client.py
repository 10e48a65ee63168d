"""The owner's handle on the engine process: spawn it, command it, read its telemetry, end it.

Synchronous and thread-free, so the same object serves a plain script (``backbeat play``) and a trio
daemon: commands are small pipe writes (the engine reads them within a loop turn), and telemetry is
read without blocking — a trio task waits with ``await trio.lowlevel.wait_readable(client)`` (the
client has ``fileno()``) and then calls ``client.recv_telemetry()``.

    with EngineClient(EngineConfig(midi_api="jack")) as engine:
        engine.schedule(events)
        engine.start()
        ...
        engine.stop()
"""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice

from . import rt
from .commands import (
    Command, EngineConfig, Fault, Jump, Notice, Panic, ReplaceFrom, RequestTelemetry, ResetStats,
    Schedule, SetTempo, SetTempoMap, Shutdown, Start, Stop, Telemetry,
)
from .errors import BY_NAME, EngineDiedError, EngineError, EngineStartError
from .events import Event
from .time import TempoMap

CHUNK = 256
"""Events per command: the engine reads one command per loop turn, so none may take long to unpickle."""


class EngineClient:
    """A running engine process. Raises the engine's own error if it fails to start."""

    def __init__(self, config: EngineConfig | None = None, *, ready_timeout: float = 10.0) -> None:
        self.config = config or EngineConfig()
        self.telemetry: Telemetry | None = None
        """The latest telemetry received."""
        self.notices: deque[Notice] = deque(maxlen=256)
        """Notices received and not yet taken by ``take_notices``."""
        ctx = multiprocessing.get_context("spawn")
        commands_r, self._commands = ctx.Pipe(duplex=False)
        self._telemetry, telemetry_w = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=rt.main, args=(self.config, commands_r, telemetry_w), name="backbeat-engine", daemon=True
        )
        self._process.start()
        # Our copies of the child's ends must go, or we would never see EOF when it dies.
        commands_r.close()
        telemetry_w.close()
        self._closed = False
        self._wait_ready(ready_timeout)

    # --- lifecycle -------------------------------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while self.telemetry is None:
            left = end - time.monotonic()
            if left <= 0:
                self.kill()
                raise EngineStartError(f"the engine process did not report ready within {timeout:.0f} s")
            try:
                if self._telemetry.poll(min(left, 0.1)):
                    self._receive()
            except EngineDiedError as error:
                self._process.join(2.0)
                self._closed = True
                raise EngineStartError(f"the engine process exited while starting ({error})") from None

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._closed and self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def shutdown(self, timeout: float = 2.0) -> None:
        """Ask the engine to end every note, close its ports and exit; kill it if it has not within ``timeout``."""
        if self._closed:
            return
        try:
            self._commands.send(Shutdown())
        except OSError:
            pass
        end = time.monotonic() + timeout
        while self._process.is_alive() and time.monotonic() < end:
            try:  # keep reading, so the engine's last telemetry never blocks on a full pipe
                if self._telemetry.poll(0.02):
                    self._receive()
            except EngineDiedError:
                break
        self._process.join(max(0.0, end - time.monotonic()))
        if self._process.is_alive():
            self.kill()
        self._close()

    def kill(self) -> None:
        """End the process at once (notes it was playing may hang: prefer ``shutdown``)."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join(1.0)
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._commands.close()
            self._telemetry.close()

    # --- commands --------------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        """Send one command; raises EngineDiedError if the engine is gone."""
        if self._closed:
            raise EngineDiedError("the engine has been shut down")
        try:
            self._commands.send(command)
        except OSError as error:
            raise EngineDiedError(f"the engine process is gone (exit code {self._process.exitcode})") from error

    def schedule(self, events: Iterable[Event]) -> None:
        for chunk in _chunks(events):
            self.send(Schedule(chunk))

    def replace_from(self, track: str, tick: int, events: Iterable[Event]) -> None:
        chunks = _chunks(events)
        self.send(ReplaceFrom(track, tick, next(chunks, ())))
        for chunk in chunks:
            self.send(Schedule(chunk))

    def set_tempo(self, tick: int, bpm: float) -> None:
        self.send(SetTempo(tick, bpm))

    def set_tempo_map(self, tempo: TempoMap) -> None:
        self.send(SetTempoMap(tempo))

    def start(self, tick: int | None = 0) -> None:
        self.send(Start(tick))

    def stop(self) -> None:
        self.send(Stop())

    def jump(self, at_tick: int | None, to_tick: int) -> None:
        self.send(Jump(at_tick, to_tick))

    def panic(self) -> None:
        self.send(Panic())

    def reset_stats(self) -> None:
        self.send(ResetStats())

    def request_telemetry(self) -> None:
        self.send(RequestTelemetry())

    # --- telemetry -------------------------------------------------------------------------------

    def fileno(self) -> int:
        """The telemetry pipe: readable when the engine has said something."""
        return self._telemetry.fileno()

    def poll(self, timeout: float = 0.0) -> bool:
        """True if something from the engine is waiting (raises EngineDiedError once it is gone)."""
        try:
            return self._telemetry.poll(timeout)
        except OSError as error:
            raise EngineDiedError(str(error)) from None

    def recv_telemetry(self) -> Telemetry | None:
        """Read all that is waiting, without blocking; the newest telemetry among it, if any."""
        newest = None
        while self.poll():
            message = self._receive()
            if isinstance(message, Telemetry):
                newest = message
        return newest

    def wait_telemetry(self, timeout: float = 2.0) -> Telemetry:
        """Ask for telemetry and wait (blocking) until fresh telemetry arrives."""
        asked = time.perf_counter()
        self.request_telemetry()
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            if self.poll(left) and isinstance(t := self._receive(), Telemetry) and t.time >= asked:
                return t
        raise EngineDiedError(f"no telemetry from the engine within {timeout} s")

    def take_notices(self) -> list[Notice]:
        notices = list(self.notices)
        self.notices.clear()
        return notices

    def _receive(self) -> object:
        try:
            message = self._telemetry.recv()
        except (EOFError, OSError):
            raise EngineDiedError(f"the engine process exited (exit code {self._process.exitcode})") from None
        if isinstance(message, Telemetry):
            self.telemetry = message
        elif isinstance(message, Notice):
            self.notices.append(message)
        elif isinstance(message, Fault):
            self._process.join(2.0)
            self._close()
            raise BY_NAME.get(message.error, EngineError)(message.message)
        return message


def _chunks(events: Iterable[Event]) -> Iterator[tuple[Event, ...]]:
    it = iter(events)
    while chunk := tuple(islice(it, CHUNK)):
        yield chunk
