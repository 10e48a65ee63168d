"""Live playback through JACK with a drum map: the port sends the kit's notes, a GM port beside it the roles."""

from __future__ import annotations

import pytest

from backbeat.engine.client import EngineClient
from backbeat.engine.commands import EngineConfig
from backbeat.engine.events import Note, note_events
from backbeat.engine.time import TempoMap
from backbeat.generators.drum_maps import note_table, port_rows

from .conftest import Receiver, is_note, unique

pytestmark = pytest.mark.realtime


def test_mpc_legacy_sends_the_mapped_notes_and_a_gm_port_the_roles(jack_server: str):
    mpc, synth = Receiver(unique("mpc")), Receiver(unique("synth"))
    mpc.listen_virtual()
    synth.listen_virtual()
    roles = [36, 38, 42, 46, 39, 49]  # kick, snare, closed and open hat, clap, crash
    events = note_events("drums", [Note(240 + 120 * i, 60, p, 100, 9) for i, p in enumerate(roles)])
    config = EngineConfig(midi_api="jack", client_name=unique("bb"), ports=(mpc.client, synth.client),
                          tempo=TempoMap.constant(120), drum_notes=port_rows("gm", {mpc.client: "mpc-legacy"}))
    try:
        with EngineClient(config) as engine:
            engine.schedule(events)
            engine.start(0)
            got_mpc = mpc.wait_for(2 * len(roles), is_note)
            got_synth = synth.wait_for(2 * len(roles), is_note)
    finally:
        mpc.close()
        synth.close()
    table = note_table("mpc-legacy")
    assert [m[1] for m in got_mpc if m[0] == 0x99] == [table[p] for p in roles] == [37, 36, 42, 82, 40, 44]
    assert [m[1] for m in got_mpc if m[0] == 0x89] == [table[p] for p in roles]
    assert [m[1] for m in got_synth if m[0] == 0x99] == roles
