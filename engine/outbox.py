"""Messages from the engine to its owner, written without ever blocking the engine loop.

The telemetry pipe's write end is non-blocking. Frames use ``multiprocessing.Connection``'s wire
format (a 4-byte big-endian length, then a pickle), so the owner reads them with ``Connection.recv``.
If the owner falls behind and the pipe fills, the rest of a frame waits in a small buffer (the loop
finishes it when the pipe is writable) and further telemetry is dropped, never waited for: fresh
telemetry replaces stale anyway. Notices and faults are kept, up to a bound.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import sys
import time
from multiprocessing.connection import Connection

_MAX_BUFFER = 1 << 16


class Outbox:
    """A non-blocking writer of frames onto ``conn``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.fd = conn.fileno()
        # Windows pipes cannot be made non-blocking: there, frames are sent whole (they are small).
        self._raw = sys.platform != "win32"
        if self._raw:
            os.set_blocking(self.fd, False)
        self._buffer = bytearray()
        self.dropped = 0

    @property
    def pending(self) -> bool:
        """Part of a frame is waiting for the pipe to drain."""
        return bool(self._buffer)

    def put(self, message: object, *, droppable: bool = True) -> None:
        """Send ``message``; a droppable one is dropped while an earlier frame is still pending."""
        if not self._raw:
            try:
                self._conn.send(message)
            except OSError:
                pass
            return
        if self._buffer and (droppable or len(self._buffer) > _MAX_BUFFER):
            self.dropped += 1
            self.flush()
            return
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._buffer += struct.pack("!i", len(data)) + data
        self.flush()

    def flush(self) -> None:
        """Write as much of the buffer as the pipe takes now."""
        while self._buffer:
            try:
                written = os.write(self.fd, self._buffer)
            except BlockingIOError:
                return
            except OSError:  # the owner is gone: nobody to tell
                self._buffer.clear()
                return
            del self._buffer[:written]

    def close(self, timeout: float = 0.5) -> None:
        """Give the owner ``timeout`` seconds to take what is pending, then close."""
        end = time.monotonic() + timeout
        while self._buffer and (left := end - time.monotonic()) > 0:
            select.select([], [self.fd], [], left)
            self.flush()
        self._conn.close()
