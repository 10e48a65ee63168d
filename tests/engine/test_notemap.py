"""Drum maps at the port: channel-10 notes go out through the port's table, nothing else changes."""

from __future__ import annotations

import time

from backbeat.engine.client import EngineClient
from backbeat.engine.commands import EngineConfig
from backbeat.engine.events import Note, note_events
from backbeat.engine.monitor import read_record
from backbeat.engine.notemap import MappedOutput, mapped, table_for
from backbeat.generators.drum_maps import note_table, port_rows


class Sink:
    label, name = "backbeat:out", "backbeat:out"

    def __init__(self) -> None:
        self.sent: list[tuple[int, ...]] = []

    def send(self, message, tick=-1, track=""):
        self.sent.append(message)


def test_drum_channel_notes_are_mapped_and_nothing_else():
    sink = Sink()
    out = MappedOutput(sink, note_table("mpc-legacy"))
    for message in [(0x99, 36, 100), (0x89, 36, 0), (0x90, 36, 100), (0xB9, 36, 0), (0x99, 20, 5)]:
        out.send(message)
    assert sink.sent == [(0x99, 37, 100), (0x89, 37, 0), (0x90, 36, 100), (0xB9, 36, 0), (0x99, 20, 5)]
    assert out.label == "backbeat:out"


def test_the_first_row_naming_a_port_wins_and_gm_leaves_a_port_alone():
    rows = port_rows("gm", {"MPC": "mpc-legacy"})
    mpc, synth = Sink(), Sink()
    mpc.label = mpc.name = "loopMIDI MPC 1"
    assert table_for(mpc, rows) == note_table("mpc-legacy")
    assert mapped(synth, rows) is synth, "an identity table costs nothing"
    assert isinstance(mapped(mpc, rows), MappedOutput)


def test_the_engine_sends_mapped_drums_and_ends_every_note_on_its_pad(tmp_path):
    path = tmp_path / "rec"
    config = EngineConfig(midi_api="record", record_path=str(path), rt_priority=0, nice=0,
                          drum_notes=port_rows("mpc-chromatic", {}))
    events = note_events("drums", [Note(0, 60, 38, 100, 9), Note(0, 60, 36, 100, 9), Note(120, 60, 40, 90, 0)])
    with EngineClient(config) as engine:
        engine.schedule(events)
        engine.start(0)
        time.sleep(0.3)
        engine.stop()
    notes = [m for _, _, m in read_record(str(path)) if isinstance(m, tuple) and m[0] & 0xE0 == 0x80]
    assert (0x99, 37, 100) in notes and (0x99, 36, 100) in notes and (0x90, 40, 90) in notes
    assert {(m[0] & 0x0F, m[1]) for m in notes if m[0] & 0xF0 == 0x80} == {(9, 37), (9, 36), (0, 40)}
