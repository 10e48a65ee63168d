"""The daemon through a JACK server that goes away and comes back (issue 17): the engine notices,
every start of a replacement fails while the server is gone, the daemon answers all along, and
when the server returns an engine starts, connects the synth that was listening, panics before its
first note, and playback resumes."""

from __future__ import annotations

import pytest
import trio

from backbeat.benchmarks import jack
from backbeat.daemon import main as daemon_main
from backbeat.daemon.state import Memory
from backbeat.engine.commands import EngineConfig
from backbeat.generators.settings import PlaybackSettings, Settings
from tests.daemon.conftest import TrioClient

from .conftest import Receiver, is_note, unique
from .test_port_health import PANIC

pytestmark = pytest.mark.realtime


def note_ons(receiver: Receiver) -> list[tuple[int, ...]]:
    return receiver.messages(lambda m: is_note(m) and m[0] & 0xF0 == 0x90 and m[2] > 0)


async def until(predicate, timeout: float, step: float = 0.05) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(step)


@pytest.mark.trio
async def test_the_daemon_survives_a_jack_server_that_goes_away_and_plays_on_when_it_returns(tmp_path):
    with jack.server("backbeat-gone") as server:
        client_name = unique("bb")
        options = daemon_main.DaemonOptions(
            socket=tmp_path / "d.sock",
            engine=EngineConfig(midi_api="jack", client_name=client_name),
            settings=Settings(output_dir=tmp_path / "out", playback=PlaybackSettings(commit_horizon_ms=200)),
            memory=Memory(tmp_path / "state.json"), resume_last=False,
        )
        synth = unique("synth")
        receiver = Receiver(synth)
        async with trio.open_nursery() as nursery:
            path = await nursery.start(daemon_main.run, options)
            c = await TrioClient.connect(path)
            await c.ok("subscribe", topics=["log", "transport"])
            receiver.connect_from(f"{client_name}:out")
            await c.ok("generate", prompt="Trap beat, dark, 240 BPM", seed=11, bars=16, play=True)
            await until(lambda: len(note_ons(receiver)) >= 4, 10)
            with trio.fail_after(5):  # the listener is known before the server goes
                while (await c.ok("status"))["ports"][0]["connections"] != [f"{synth}:in"]:
                    await trio.sleep(0.1)

            server.stop()
            await c.wait_event("log", lambda d: "JACK server went away" in d["message"], timeout=2.0)
            receiver.close()  # its client died with the server: closed before any new client opens
            await c.wait_event("log", lambda d: "could not start" in d["message"], timeout=5)
            for _ in range(3):  # the daemon answers while no engine can start
                status = await c.ok("status")
                assert status["engine"]["alive"] is False and "JACK" in status["engine"]["error"]
                assert status["transport"]["state"] == "playing", "the performance goes on, waiting for an engine"
                await trio.sleep(0.5)

            server.start()
            receiver = Receiver(synth)  # the synth starts again with the server...
            receiver.listen_virtual()  # ...and the new engine connects it by name
            await c.wait_event("log", lambda d: "running again" in d["message"], timeout=15)
            await c.wait_event("log", lambda d: "resumed" in d["message"], timeout=5)
            await until(lambda: len(note_ons(receiver)) >= 4, 10)
            status = await c.ok("status")
            assert status["engine"]["alive"] and status["engine"]["restarts"] == 1 and status["engine"]["error"] is None
            assert status["ports"][0]["connections"] == [f"{synth}:in"]
            heard = receiver.messages()
            assert heard[:48] == PANIC, "the new engine's start-up panic reaches the synth before any note"
            nursery.cancel_scope.cancel()
        receiver.close()


@pytest.mark.trio
async def test_an_engine_killed_on_the_virtual_port_is_replaced_and_the_synth_hears_its_panic_and_the_music(jack_server, tmp_path):
    import os
    import signal

    client_name = unique("bb")
    options = daemon_main.DaemonOptions(
        socket=tmp_path / "d.sock", engine=EngineConfig(midi_api="jack", client_name=client_name),
        settings=Settings(output_dir=tmp_path / "out", playback=PlaybackSettings(commit_horizon_ms=200)),
        memory=Memory(tmp_path / "state.json"), resume_last=False,
    )
    receiver = Receiver(unique("synth"))
    try:
        async with trio.open_nursery() as nursery:
            path = await nursery.start(daemon_main.run, options)
            c = await TrioClient.connect(path)
            await c.ok("subscribe", topics=["log"])
            receiver.connect_from(f"{client_name}:out")
            await c.ok("generate", prompt="Trap beat, dark, 240 BPM", seed=11, bars=16, play=True)
            await until(lambda: len(note_ons(receiver)) >= 4, 10)
            await trio.sleep(1.5)  # the engine reports its listeners every second
            status = await c.ok("status")
            os.kill(status["engine"]["pid"], signal.SIGKILL)  # notes hang at the synth now
            heard = len(receiver.messages())
            await c.wait_event("log", lambda d: "resumed" in d["message"], timeout=10)
            await until(lambda: len(note_ons(receiver)[heard:]) >= 4, 10)
            after = receiver.messages()[heard:]
            first_on = next(i for i, m in enumerate(after) if is_note(m) and m[0] & 0xF0 == 0x90 and m[2] > 0)
            assert any(after[i : i + 48] == PANIC for i in range(first_on)), "a full panic reaches the synth before the first note"
            nursery.cancel_scope.cancel()
    finally:
        receiver.close()
