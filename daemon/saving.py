"""Keeping the live song's session folder written, through a full disk and back.

``save`` writes through the ``write`` it was given (the one writer of the folder, which knows the
song, the folder and its lock). A write that fails — a full disk, a folder that became read-only —
is reported at once (an ``error`` log event; ``error`` for ``status``; every reply says ``unsaved``
while it lasts) and the song stays in memory, playing: ``run`` writes it again every ``RETRY_S``
seconds until a write succeeds, and says so. Nothing is lost but the undo snapshots of changes made
meanwhile (the folder then gets the song as it is).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from backbeat.generators.errors import GeneratorError

from .bus import Bus

RETRY_S = 2.0
"""Seconds between attempts to write a folder that could not be written."""


class Saver:
    def __init__(self, bus: Bus, write: Callable[[], Awaitable[None]], *, retry_s: float = RETRY_S) -> None:
        self.bus, self._write, self.retry_s = bus, write, retry_s
        self.error: str | None = None
        """Why the latest write failed; None while the folder is current."""
        self._failed = trio.Event()

    async def save(self) -> bool:
        """Write now; False (reported, and retried by ``run``) if the write failed."""
        try:
            await self._write()
        except (GeneratorError, OSError) as error:
            self.failed(error)
            return False
        if self.error is not None:
            self.error = None
            self.bus.log("info", "the session folder is written again: every change is saved")
        return True

    def failed(self, error: BaseException) -> None:
        """A write of the folder failed (here or in a change that writes its own files)."""
        why = str(error) or type(error).__name__
        if why != self.error:
            self.bus.log("error", f"the session folder could not be written ({why}); the song is kept in memory and "
                                  f"written again every {self.retry_s:g} s until it is")
        self.error = why
        self._failed.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Retry failed writes until cancelled."""
        task_status.started()
        while True:
            await self._failed.wait()
            self._failed = trio.Event()
            while self.error is not None:
                await trio.sleep(self.retry_s)
                await self.save()
