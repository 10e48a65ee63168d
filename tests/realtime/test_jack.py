"""The engine against a real MIDI subsystem: JACK's dummy driver, an independent JACK receiver."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backbeat.benchmarks import jack
from backbeat.engine.client import EngineClient
from backbeat.engine.clock_sync import CLOCK, START, STOP, song_position
from backbeat.engine.commands import EngineConfig
from backbeat.engine.events import Note, note_events
from backbeat.engine.scheduler import PANIC_CONTROLLERS, STOP_CONTROLLERS
from backbeat.engine.time import TempoMap

from .conftest import Receiver, is_note, unique, wait_until

pytestmark = pytest.mark.realtime


def config(**kw) -> EngineConfig:
    kw.setdefault("client_name", unique("bb"))
    return EngineConfig(midi_api="jack", tempo=TempoMap.constant(120), **kw)


def notes(count: int, step: int = 48, length: int = 24, channel: int = 0) -> list:
    return note_events("t", [Note(480 + i * step, length, 40 + i % 40, 100, channel) for i in range(count)])


def test_notes_arrive_complete_in_order_and_on_time(receiver: Receiver, jack_server: jack.Server):
    cfg = config()
    events = notes(40)  # 80 events over 2 s
    dump = jack.Dump(unique("dump"))
    try:
        with EngineClient(cfg) as engine:
            assert engine.telemetry.api == "jack" and engine.telemetry.ports[0].name == f"{cfg.client_name}:out"
            receiver.connect_from(f"{cfg.client_name}:out")
            dump.connect_from(f"{cfg.client_name}:out")
            xruns = jack_server.xruns
            engine.schedule(events)
            engine.start(0)
            t = engine.wait_telemetry()
            got = receiver.wait_for(len(events), is_note, timeout=5)
            final = engine.wait_telemetry()
            assert wait_until(lambda: len([m for m in dump.messages() if is_note(m)]) >= len(events), 2)
    finally:
        dump.close()
    why = f"(jackd reported {jack_server.xruns - xruns} xruns meanwhile)"
    assert got == [e.message for e in events], why
    assert [m for m in dump.messages() if is_note(m)] == got, f"jack_midi_dump, an independent receiver, agrees {why}"
    anchor = t.anchor_time - t.anchor_tick / 960
    lateness = [stamp - (anchor + ev.tick / 960) for (stamp, _), ev in zip(receiver.stamped(is_note), events)]
    assert min(lateness) > -0.0005, "nothing arrives before its deadline"
    assert statistics.median(lateness) < 0.010 and max(lateness) < 0.050  # JACK delivers once per period
    assert final.samples == len(events) and final.early_count == 0 and final.p99_ms < 5


def is_cc(m: tuple[int, ...]) -> bool:
    return m[0] & 0xF0 == 0xB0


def test_stop_ends_what_sounds_and_panic_resets_every_channel(receiver: Receiver):
    cfg = config()
    held = note_events("pad", [Note(0, 4800, p, 90, 2) for p in (48, 55, 60)])
    with EngineClient(cfg) as engine:
        receiver.connect_from(f"{cfg.client_name}:out")
        engine.schedule(held)
        engine.start(0)
        receiver.wait_for(3, is_note)
        engine.stop()
        got = receiver.wait_for(6, is_note)
        assert got[3:] == [(0x82, 48, 0), (0x82, 55, 0), (0x82, 60, 0)]
        assert receiver.wait_for(2, is_cc) == [(0xB2, cc, 0) for cc in STOP_CONTROLLERS], "the channel used"
        engine.panic()
        ccs = receiver.wait_for(2 + 48, is_cc)[2:]
    assert ccs == [(0xB0 | ch, cc, 0) for ch in range(16) for cc in PANIC_CONTROLLERS]
    assert len(receiver.messages(is_note)) == 6, "no note-off for notes already ended"


def test_a_vanished_port_is_marked_down_within_2s_the_others_play_on_and_it_returns(jack_server: jack.Server):
    a, b = Receiver(unique("recv-a")), Receiver(unique("recv-b"))
    a.listen_virtual()
    b.listen_virtual()
    cfg = config(ports=(a.client, b.client))  # default poll interval: the 2 s promise as shipped
    try:
        with EngineClient(cfg) as engine:
            assert [p.up for p in engine.telemetry.ports] == [True, True]
            b.close()
            gone = time.monotonic()
            assert wait_until(lambda: _port_up(engine, b.client) is False, 2.5)
            assert time.monotonic() - gone < 2.0 + 0.2
            engine.schedule(notes(4, step=120))
            engine.start(0)
            assert len(a.wait_for(8, is_note)) == 8  # the other port keeps playing
            b = Receiver(b.client)
            b.listen_virtual()
            assert wait_until(lambda: _port_up(engine, b.client) is True, 2.5)
            engine.start(0)
            engine.schedule(notes(2, step=120))
            assert len(b.wait_for(4, is_note)) == 4
            assert any("is down" in n.text for n in engine.take_notices())
    finally:
        a.close()
        b.close()


def _port_up(engine: EngineClient, client: str) -> bool | None:
    engine.recv_telemetry()
    engine.request_telemetry()
    for port in engine.telemetry.ports:
        if client in port.name:
            return port.up
    return None


def test_midi_clock_out_spp_start_pulses_stop(receiver: Receiver):
    cfg = config(clock_out=())
    with EngineClient(cfg) as engine:
        assert engine.telemetry.ports[0].role == "notes+clock"
        receiver.connect_from(f"{cfg.client_name}:out")
        engine.start(0)
        time.sleep(1.0)
        engine.stop()
        time.sleep(0.1)
    got = receiver.stamped(lambda m: m[0] >= 0xF0)
    kinds = [m for _, m in got]
    assert kinds[:2] == [song_position(0), (START,)] and kinds[-1] == (STOP,)
    pulses = [t for t, m in got if m == (CLOCK,)]
    assert 44 <= len(pulses) <= 52  # 48 per second at 120 BPM
    gaps = [b - a for a, b in zip(pulses, pulses[1:])]
    assert abs(statistics.median(gaps) - 0.5 / 24) < 0.002


def test_follows_an_external_clock(jack_server: jack.Server):
    import rtmidi

    source = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=unique("ext-clock"))
    source.open_virtual_port("out")
    stop = threading.Event()

    def run_clock(bpm: float = 100.0) -> None:
        source.send_message([START])
        t0 = time.perf_counter() + 0.02
        k = 0
        while not stop.is_set():
            wait = t0 + k * 60 / bpm / 24 - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            source.send_message([CLOCK])
            k += 1
        source.send_message([STOP])

    cfg = config(follow="ext-clock")
    try:
        with EngineClient(cfg) as engine:
            clock = threading.Thread(target=run_clock)
            clock.start()
            time.sleep(1.5)
            t = engine.wait_telemetry()
            assert t.state == "playing" and t.clock == "follow"
            assert t.bpm == pytest.approx(100, abs=3)
            assert t.tick == pytest.approx(1.47 * 100 * 8, abs=150)
            stop.set()
            clock.join()
            assert wait_until(lambda: engine.wait_telemetry().state == "stopped", 2)
    finally:
        stop.set()
        source.delete()


def test_jack_midi_dump_sees_every_byte(jack_server: jack.Server):
    dump = jack.Dump(unique("dump"))
    cfg = config()
    events = notes(20, step=24)
    try:
        with EngineClient(cfg) as engine:
            dump.connect_from(f"{cfg.client_name}:out")
            time.sleep(0.1)
            engine.schedule(events)
            engine.start(0)
            time.sleep(0.5 + 20 * 24 / 960 + 0.3)
    finally:
        dump.close()
    assert [m for m in dump.messages() if is_note(m)] == [e.message for e in events]


@pytest.mark.parametrize("ending", ["shutdown", "sigterm"])
def test_shutdown_and_sigterm_end_sounding_notes_and_exit_quickly(receiver: Receiver, ending: str):
    cfg = config()
    engine = EngineClient(cfg)
    receiver.connect_from(f"{cfg.client_name}:out")
    engine.schedule(note_events("x", [Note(0, 9600, 64, 100, 5)]))
    engine.start(0)
    assert receiver.wait_for(1, is_note) == [(0x95, 64, 100)]
    started = time.monotonic()
    if ending == "shutdown":
        engine.shutdown()
    else:
        os.kill(engine.pid, signal.SIGTERM)
        assert wait_until(lambda: not engine.alive, 2.0)
        engine.shutdown()
    assert time.monotonic() - started < 2.0
    assert receiver.wait_for(2, is_note) == [(0x95, 64, 100), (0x85, 64, 0)]
    assert engine.exitcode == 0


def test_play_command_plays_a_session_and_stops_cleanly_on_sigterm(receiver: Receiver, tmp_path: Path):
    pipeline = pytest.importorskip("backbeat.generators.pipeline")
    session = pytest.importorskip("backbeat.generators.session")
    song = pipeline.compose_sync("Trap beat, dark, 140 BPM", seed=5, bars=8)
    folder = tmp_path / "session"
    folder.mkdir()
    session.write(folder, song, [])
    port = receiver.listen_virtual()
    play = subprocess.Popen(
        [sys.executable, "-m", "backbeat", "play", str(folder), "--midi-api", "jack", "--port", port, "--loop"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert len(receiver.wait_for(8, lambda m: is_note(m) and m[0] & 0xF0 == 0x90 and m[2] > 0, timeout=15)) >= 8
        play.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, err = play.communicate(timeout=5)
        assert time.monotonic() - started < 2.0, err
    finally:
        if play.poll() is None:
            play.kill()
    assert play.returncode == 128 + signal.SIGTERM, err
    time.sleep(0.1)
    sounding: dict[tuple[int, int], int] = {}
    for m in receiver.messages(is_note):
        key = (m[0] & 0x0F, m[1])
        sounding[key] = sounding.get(key, 0) + (1 if m[0] & 0xF0 == 0x90 and m[2] > 0 else -1)
    assert not {k: v for k, v in sounding.items() if v > 0}, "no note left hanging"


def test_a_port_that_does_not_exist_is_a_clear_error(receiver: Receiver):
    from backbeat.engine.errors import PortNotFoundError

    port = receiver.listen_virtual()
    with pytest.raises(PortNotFoundError, match=f"no jack output port matches 'no-such-synth'.*'{port}'"):
        EngineClient(config(ports=("no-such-synth",)))


def test_ports_command_lists_jack_ports(receiver: Receiver):
    port = receiver.listen_virtual()
    out = subprocess.run(
        [sys.executable, "-m", "backbeat", "ports", "--midi-api", "jack"], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("JACK:\n  outputs") and f"    {port}\n" in out
