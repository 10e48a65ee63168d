"""The wire: a stream of msgpack maps, each at most ``MAX_FRAME`` bytes (docs/PROTOCOL.md).

No I/O and no trio here: the daemon (trio) and the TUI (asyncio) both feed bytes in and take frames
out. The decoder's buffer is bounded by the frame limit, so a client cannot make the daemon hold
more than one frame's worth of its bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgpack

MAX_FRAME = 1 << 20
"""Largest encoded map, in bytes (1 MiB)."""


class FrameError(ValueError):
    """Bytes on the stream that are not a valid frame; the connection cannot continue."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def encode(frame: dict[str, Any]) -> bytes:
    """One frame's bytes.

    Raises:
        FrameError: the frame is too large to send.
    """
    data = msgpack.packb(frame, use_bin_type=True)
    if len(data) > MAX_FRAME:
        raise FrameError("too_large", f"frame of {len(data)} bytes exceeds the {MAX_FRAME}-byte limit")
    return data


class Decoder:
    """Incremental decoder: ``feed`` bytes as they arrive, then iterate the complete frames."""

    def __init__(self) -> None:
        self._fed = 0
        self._whole = 0
        """Bytes of the stream up to the end of the last whole frame."""
        self._unpacker = msgpack.Unpacker(
            raw=False,
            max_buffer_size=MAX_FRAME,
            strict_map_key=True,
            max_str_len=MAX_FRAME,
            max_bin_len=MAX_FRAME,
            max_array_len=MAX_FRAME // 2,
            max_map_len=MAX_FRAME // 2,
        )

    def feed(self, data: bytes) -> None:
        """Add received bytes.

        Raises:
            FrameError: more than ``MAX_FRAME`` bytes are buffered without completing a frame.
        """
        try:
            self._unpacker.feed(data)
        except msgpack.BufferFull:
            raise FrameError("too_large", f"a frame exceeds the {MAX_FRAME}-byte limit") from None
        self._fed += len(data)

    @property
    def pending(self) -> int:
        """Bytes received that are not a whole frame yet (once the complete ones were taken): a
        half-sent frame, when not 0."""
        return self._fed - self._whole

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The complete frames received so far.

        Raises:
            FrameError: the bytes are not msgpack, or a value is not a map.
        """
        while True:
            try:
                frame = next(self._unpacker)
            except StopIteration:
                return
            except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as e:
                raise FrameError("bad_frame", f"not a msgpack frame: {e}") from None
            self._whole = self._unpacker.tell()  # exact only at a frame's end: msgpack reads partial ones ahead
            if not isinstance(frame, dict):
                raise FrameError("bad_frame", f"expected a map, got {type(frame).__name__}")
            yield frame
