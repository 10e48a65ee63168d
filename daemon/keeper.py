"""Keeping an engine process for the player: started, started again when it dies, never given up.

A start that fails (the JACK server is gone, the process is out of descriptors, a named port is not
there yet) never stops the daemon: it is reported — a ``log`` event when it first fails or fails for
a new reason, and ``error``/``attempts``/``retry_in`` for ``status`` — and tried again after a
backoff, for as long as the daemon runs. A replacement keeps what the engine it replaces had found:
the MIDI API (a daemon on ``auto`` that found JACK must wait for JACK, not fall back to the terminal
monitor while JACK restarts) and the listeners of its virtual port (``EngineConfig.restore``), so
its start-up panic reaches the synth that was listening.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import trio

from backbeat.engine.client import EngineClient
from backbeat.engine.commands import EngineConfig, Telemetry
from backbeat.engine.errors import EngineError

from .bus import Bus

BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0)
"""Seconds before each new attempt after a failed start; the last one repeats."""

_NOT_APIS = ("monitor", "null", "record")


class EngineKeeper:
    """Starts engines for one player, with ``factory`` (``EngineClient`` or a test's fake)."""

    def __init__(self, config: EngineConfig, bus: Bus, factory: Callable[[EngineConfig], EngineClient] = EngineClient,
                 *, backoff: tuple[float, ...] = BACKOFF_S) -> None:
        self.config, self.bus, self._factory, self.backoff = config, bus, factory, backoff
        self.error: str | None = None
        """Why the last start failed; None once one succeeds."""
        self.attempts = 0
        """Failed starts since the last good one."""
        self.starts = 0
        """Engines started (the first one included)."""
        self.retry_at: float | None = None
        """(trio time) When the next attempt is due, while one is waited for."""
        self._api: str | None = None
        self._listeners: tuple[str, ...] = ()

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    def retry_in(self) -> float | None:
        """Seconds until the next attempt (None when none is waited for)."""
        return None if self.retry_at is None else max(0.0, self.retry_at - trio.current_time())

    def remember(self, telemetry: Telemetry | None) -> None:
        """Keep what a replacement of the engine that sent ``telemetry`` must have too."""
        if telemetry is None:
            return
        if telemetry.api not in _NOT_APIS:
            self._api = telemetry.api
        if not self.config.ports:
            for port in telemetry.ports:
                if port.role.startswith("notes"):
                    self._listeners = tuple(dict.fromkeys((*port.connections, *port.missing)))

    def next_config(self) -> EngineConfig:
        """The config of the next engine: the configured one, with the API and listeners found."""
        changes: dict[str, object] = {}
        if self.config.midi_api == "auto" and self._api is not None:
            changes["midi_api"] = self._api
        if self._listeners:
            changes["restore"] = self._listeners
        return dataclasses.replace(self.config, **changes) if changes else self.config

    async def attempt(self) -> EngineClient | None:
        """One start; None (reported) if it failed."""
        try:
            engine = await trio.to_thread.run_sync(self._factory, self.next_config())
        except (EngineError, OSError) as error:  # OSError: out of descriptors, pipes, processes
            self._failed(error)
            return None
        if self.attempts:
            self.bus.log("info", f"the engine is running again (after {self.attempts} failed start{'s' * (self.attempts > 1)})")
        self.error, self.attempts, self.retry_at = None, 0, None
        self.starts += 1
        self.remember(engine.telemetry)
        return engine

    async def start(self) -> EngineClient:
        """Start an engine, trying again after each failure (backoff) until one runs."""
        while (engine := await self.attempt()) is None:
            delay = self.backoff[min(self.attempts - 1, len(self.backoff) - 1)]
            self.retry_at = trio.current_time() + delay
            await trio.sleep(delay)
        return engine

    def _failed(self, error: BaseException) -> None:
        why = str(error) or type(error).__name__
        self.attempts += 1
        if why != self.error:  # once per reason, not once per attempt
            self.bus.log("error", f"the engine could not start: {why}; trying again, every {self.backoff[-1]:g} s at most")
        self.error = why
