"""Outputs that are not MIDI ports: the terminal monitor (notes printed as they play), a null sink,
and a recorder that writes every message with its tick to a file (for tests that check exact ticks).

The monitor is where playback goes when no MIDI API is usable, so a bare machine still shows the
song in real time. It prints note-ons and transport changes, one line each, flushed once per engine
loop turn so a slow terminal costs one write, not one per note.
"""

from __future__ import annotations

import sys
from typing import TextIO

from .commands import PortStatus
from .events import NOTE_ON
from .time import Meter

_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(note: int) -> str:
    """Scientific pitch name, middle C (60) = C4."""
    return f"{_NAMES[note % 12]}{note // 12 - 1}"


class MonitorOutput:
    """Prints what would be played: ``bar.beat.tick  track  channel  note  velocity``."""

    label = "monitor"
    role = "monitor"
    name = "terminal monitor"
    up = True

    def __init__(self, meter: Meter, stream: TextIO | None = None) -> None:
        self._meter = meter
        self._stream = stream or sys.stdout
        self._lines: list[str] = []

    def _where(self, tick: int) -> str:
        bar, beat, sub = self._meter.position(max(tick, 0))
        return f"{bar + 1:>4}.{beat + 1}.{sub:03d}"

    def send(self, message: tuple[int, ...], tick: int = -1, track: str = "") -> None:
        if len(message) == 3 and message[0] & 0xF0 == NOTE_ON and message[2] > 0:
            channel = (message[0] & 0x0F) + 1
            self._lines.append(
                f"{self._where(tick)}  {track[:10]:<10} ch{channel:<2} {note_name(message[1]):<4} vel {message[2]}"
            )

    def transport(self, kind: str, tick: int) -> None:
        self._lines.append(f"{self._where(tick)}  -- {kind}")

    def flush(self) -> None:
        if self._lines:
            try:
                self._stream.write("\n".join(self._lines) + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed terminal must not stop the engine
            self._lines.clear()

    def open(self) -> None:
        """Nothing to open."""

    def poll(self) -> str | None:
        return None

    def status(self) -> PortStatus:
        return PortStatus(self.name, self.role, True)

    def close(self) -> None:
        self.flush()


class NullOutput(MonitorOutput):
    """Discards everything (timing benchmarks without a MIDI API)."""

    label = "null"
    role = "notes"
    name = "null sink"

    def __init__(self) -> None:
        super().__init__(Meter())

    def send(self, message: tuple[int, ...], tick: int = -1, track: str = "") -> None:
        pass

    def transport(self, kind: str, tick: int) -> None:
        pass


class RecordOutput(NullOutput):
    """Writes ``tick track status data...`` (hex bytes) per message to ``path``, flushed each loop turn."""

    label = "record"
    name = "recorder"

    def __init__(self, path: str) -> None:
        super().__init__()
        self._file = open(path, "a", buffering=1 << 16, encoding="ascii")  # noqa: SIM115 - closed in close()

    def send(self, message: tuple[int, ...], tick: int = -1, track: str = "") -> None:
        self._file.write(f"{tick} {track or '-'} {' '.join(f'{b:02x}' for b in message)}\n")

    def transport(self, kind: str, tick: int) -> None:
        self._file.write(f"{tick} - {kind}\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def read_record(path: str) -> list[tuple[int, str, tuple[int, ...] | str]]:
    """The (tick, track, message bytes or transport kind) lines a ``RecordOutput`` wrote."""
    rows: list[tuple[int, str, tuple[int, ...] | str]] = []
    with open(path, encoding="ascii") as f:
        for line in f:
            tick, track, rest = line.rstrip("\n").split(" ", 2)
            if rest.isalpha():
                rows.append((int(tick), track, rest))
            else:
                rows.append((int(tick), track, tuple(int(b, 16) for b in rest.split())))
    return rows
