"""Drum maps at the port: every note output can send the drum channel's notes through a table.

The owner's events carry drum *roles* (General MIDI numbers). A port into MPC Beats may need them on
the pads of a factory kit, a GM synth on another port as they are: ``EngineConfig.drum_notes`` gives
a 128-note table per port (by name substring), built by ``generators.drum_maps.note_table``, the
function the file writer uses too. Mapping happens at the send, after the ledger, so the ledger,
stops and panics keep working on roles and every note-off follows its note-on to the same pad.
"""

from __future__ import annotations

from typing import Any

from .events import NOTE_OFF, NOTE_ON

DRUM_CHANNEL = 9
"""Zero-based: MIDI channel 10."""


class MappedOutput:
    """An output that sends drum-channel note messages through ``table``; everything else as it is."""

    def __init__(self, output: Any, table: tuple[int, ...], channel: int = DRUM_CHANNEL) -> None:
        if len(table) != 128 or any(not 0 <= n <= 127 for n in table):
            raise ValueError("a drum note table has 128 notes, each 0-127")
        self.output, self.table = output, table
        self._statuses = (NOTE_OFF | channel, NOTE_ON | channel)

    def send(self, message: tuple[int, ...], tick: int = -1, track: str = "") -> None:
        if len(message) == 3 and message[0] in self._statuses:
            message = (message[0], self.table[message[1]], message[2])
        self.output.send(message, tick, track)

    def __getattr__(self, name: str) -> Any:  # label, name, flush, transport, poll, status, close
        return getattr(self.output, name)


def table_for(output: Any, rows: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[int, ...] | None:
    """The table of the first row whose pattern is empty or names ``output``; None if none does."""
    names = (getattr(output, "label", "").casefold(), getattr(output, "name", "").casefold())
    for pattern, table in rows:
        wanted = pattern.casefold()
        if not wanted or any(wanted in n for n in names):
            return table
    return None


def mapped(output: Any, rows: tuple[tuple[str, tuple[int, ...]], ...]) -> Any:
    """``output`` itself, or wrapped in its drum note table."""
    table = table_for(output, rows)
    if table is None or table == tuple(range(128)):
        return output
    return MappedOutput(output, table)
