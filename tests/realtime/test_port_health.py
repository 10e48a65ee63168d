"""Port health against a real JACK server (issue 17): what a listener sees when connections drop,
ports vanish and return, the engine is replaced, or the server itself goes away."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time

import pytest

from backbeat.benchmarks import jack
from backbeat.benchmarks.integrity import Keys
from backbeat.engine.client import EngineClient
from backbeat.engine.errors import EngineError, ServerLostError
from backbeat.engine.events import Note, note_events
from backbeat.engine.scheduler import PANIC_CONTROLLERS

from .conftest import Receiver, is_note, unique, wait_until
from .test_jack import config

pytestmark = pytest.mark.realtime

PANIC = [(0xB0 | ch, cc, 0) for ch in range(16) for cc in PANIC_CONTROLLERS]
HELD = note_events("pad", [Note(0, 96000, p, 90, 2) for p in (48, 55, 60, 64, 67)])  # 5 notes, 100 s


def panics(messages: list[tuple[int, ...]]) -> int:
    """How many complete panics (CC123, CC120, CC64 on all 16 channels, in order) are in ``messages``."""
    ccs = [m for m in messages if m[0] & 0xF0 == 0xB0]
    return sum(ccs[i : i + 48] == PANIC for i in range(len(ccs)))


def hanging(messages: list[tuple[int, ...]]) -> set[tuple[int, int]]:
    """Notes a synth would still be playing: note-ons not ended by a note-off or an all-notes-off."""
    on: set[tuple[int, int]] = set()
    for m in messages:
        if is_note(m) and m[0] & 0xF0 == 0x90 and m[2] > 0:
            on.add((m[0] & 0x0F, m[1]))
        elif is_note(m):
            on.discard((m[0] & 0x0F, m[1]))
        elif m[0] & 0xF0 == 0xB0 and m[1] in (120, 123):
            on = {k for k in on if k[0] != m[0] & 0x0F}
    return on


def test_a_dropped_connection_to_a_named_port_is_made_again_within_2s_with_a_panic(jack_server):
    listener = Receiver(unique("synth"))
    port = listener.listen_virtual()
    try:
        with EngineClient(config(ports=(listener.client,))) as engine:
            own = [p for p in subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout.split() if p.endswith(":notes")]
            engine.schedule(HELD)
            engine.start(0)
            assert len(listener.wait_for(5, is_note)) == 5
            mine = next(p for p in own if port in subprocess.run(["jack_lsp", "-c", p], capture_output=True, text=True).stdout)
            assert hanging(listener.messages()) == {(2, p) for p in (48, 55, 60, 64, 67)}
            subprocess.run(["jack_disconnect", mine, port], check=True)
            dropped = time.monotonic()
            assert wait_until(lambda: panics(listener.messages()) == 2, 2.5), "after the start-up panic, one more"
            assert time.monotonic() - dropped < 2.0 + 0.2
            assert hanging(listener.messages()) == set(), "none of the 5 notes hangs after the connection returns"
            engine.wait_telemetry()
            assert [n.text for n in engine.take_notices()][-2:] == [f"port {port} (notes) is down", f"port {port} (notes) is up"]
    finally:
        listener.close()


def test_a_named_port_that_returns_gets_a_panic_before_the_first_note(jack_server):
    listener = Receiver(unique("synth"))
    name = listener.client
    listener.listen_virtual()
    try:
        with EngineClient(config(ports=(name,))) as engine:
            listener.close()
            assert wait_until(lambda: not engine.wait_telemetry().ports[0].up, 2.5)
            listener = Receiver(name)
            listener.listen_virtual()
            assert wait_until(lambda: engine.wait_telemetry().ports[0].up, 2.5)
            engine.schedule(note_events("x", [Note(0, 240, 60, 100, 0)]))
            engine.start(0)
            got = listener.wait_for(2, is_note)
            assert got == [(0x90, 60, 100), (0x80, 60, 0)]
            assert listener.messages()[:48] == PANIC, "the panic comes first"
    finally:
        listener.close()


def test_a_listener_of_the_virtual_port_that_vanishes_is_connected_again_when_it_returns(jack_server):
    cfg = config()
    listener = Receiver(unique("synth"))
    name = listener.client
    try:
        with EngineClient(cfg) as engine:
            listener.connect_from(f"{cfg.client_name}:out")
            assert wait_until(lambda: engine.wait_telemetry().ports[0].connections == (f"{name}:in",), 2.5)
            listener.close()  # the synth quits...
            assert wait_until(lambda: engine.wait_telemetry().ports[0].missing == (f"{name}:in",), 2.5)
            listener = Receiver(name)  # ...and starts again: nobody connects it by hand
            listener.listen_virtual()
            back = time.monotonic()
            assert wait_until(lambda: panics(listener.messages()) == 1, 2.5), "connected again, with a panic"
            assert time.monotonic() - back < 2.0 + 0.2
            engine.schedule(note_events("x", [Note(0, 240, 60, 100, 0)]))
            engine.start(0)
            assert listener.wait_for(2, is_note) == [(0x90, 60, 100), (0x80, 60, 0)]
            assert engine.wait_telemetry().ports[0].connections == (f"{name}:in",)
    finally:
        listener.close()


def test_an_engine_that_replaces_a_crashed_one_restores_its_listeners_before_its_start_up_panic(jack_server):
    cfg = config()
    listener = Receiver(unique("synth"))
    try:
        first = EngineClient(cfg)
        listener.connect_from(f"{cfg.client_name}:out")
        first.schedule(HELD)
        first.start(0)
        assert len(listener.wait_for(5, is_note)) == 5
        assert wait_until(lambda: first.wait_telemetry().ports[0].connections == (f"{listener.client}:in",), 2.5)
        listening = first.telemetry.ports[0].connections  # what an owner knows when the engine dies
        os.kill(first.pid, signal.SIGKILL)  # 5 notes hang at the listener
        first.kill()
        with EngineClient(dataclasses.replace(cfg, restore=listening)) as second:
            assert listener.wait_for(5 + 48, lambda m: True)[5:] == PANIC, "the start-up panic reaches the listener"
            assert hanging(listener.messages()) == set()
            assert second.wait_telemetry().ports[0].connections == listening
    finally:
        listener.close()


def test_losing_the_jack_server_ends_the_engine_within_2s_with_one_clear_error():
    # A server of its own: this test stops it.
    with jack.server("backbeat-lost") as server:
        engine = EngineClient(config())
        assert engine.telemetry.ports[0].up
        started = time.monotonic()
        server.stop()
        error = None
        while time.monotonic() - started < 3 and error is None:
            try:
                engine.poll(0.05) and engine.recv_telemetry()
            except EngineError as e:
                error = e
        assert isinstance(error, ServerLostError), error
        assert time.monotonic() - started < 2.0
        assert "JACK server went away" in str(error)
        assert [p.up for p in engine.telemetry.ports] == [False], "its last telemetry says the port is down"
        assert any("every port is down" in n.text for n in engine.take_notices())
        assert wait_until(lambda: not engine.alive, 2.0) and engine.exitcode == 0
