"""The engine process and its client, on the null sink (no MIDI system needed): lifecycle and errors."""

import os
import signal
import subprocess
import sys
import time

import pytest

from backbeat.engine.client import EngineClient
from backbeat.engine.commands import EngineConfig, Schedule
from backbeat.engine.errors import EngineDiedError, NoMidiApiError
from backbeat.engine.events import Event, Note, note_events

NULL = EngineConfig(midi_api="null", rt_priority=0, nice=0)


def test_plays_and_reports_telemetry():
    with EngineClient(NULL) as engine:
        first = engine.telemetry
        assert first.state == "stopped" and first.api == "null" and first.events_sent == 48  # start-up panic
        engine.reset_stats()
        engine.schedule(note_events("x", [Note(i * 24, 12, 60, 100, 0) for i in range(10)]))
        engine.start(0)
        time.sleep(0.35)
        t = engine.wait_telemetry()
        assert t.state == "playing" and t.samples == 20 and t.events_sent == 20
        assert t.tick == pytest.approx(0.35 * 960, abs=60) and t.bpm == 120.0
        engine.stop()
        assert engine.wait_telemetry().state == "stopped"


def test_a_bad_command_is_reported_and_the_engine_plays_on():
    with EngineClient(NULL) as engine:
        engine.send(Schedule((Event(-5, "x", (0x90, 60, 100)),)))
        engine.send("not a command")  # type: ignore[arg-type]
        t = engine.wait_telemetry()
        texts = [n.text for n in engine.take_notices()]
        assert any("Schedule ignored" in x for x in texts) and any("unknown command" in x for x in texts)
        assert engine.alive and t.state == "stopped"


def test_death_is_detected():
    engine = EngineClient(NULL)
    os.kill(engine.pid, signal.SIGKILL)
    time.sleep(0.3)
    with pytest.raises(EngineDiedError):
        engine.recv_telemetry()
    assert not engine.alive
    with pytest.raises(EngineDiedError):
        engine.stop()


def test_a_start_failure_raises_the_engines_own_error(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "backbeat-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    with pytest.raises(NoMidiApiError, match="JACK"):
        EngineClient(EngineConfig(midi_api="jack"))


def test_the_engine_imports_nothing_heavy():
    code = (
        "import sys, engine.rt, engine.client\n"
        "heavy = {'pydantic', 'trio', 'generators', 'daemon', 'textual', 'httpx', 'mido'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_trio_task_can_wait_for_telemetry_without_blocking_the_loop():
    """What the daemon will do: wait_readable on the client, then a non-blocking read (plain trio.run)."""
    trio = pytest.importorskip("trio")

    async def main() -> list[str]:
        states = []
        with EngineClient(NULL) as engine:
            engine.recv_telemetry()
            engine.start(0)
            with trio.fail_after(3):
                while len(states) < 3:
                    await trio.lowlevel.wait_readable(engine)
                    if (t := engine.recv_telemetry()) is not None:
                        states.append(t.state)
        return states

    assert trio.run(main) == ["playing"] * 3
