"""The engine keeper on trio's MockClock: failed starts retried on the backoff's exact times, told
once per reason, and a replacement that keeps the API and the listeners the engine had."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import trio

from backbeat.daemon.bus import Bus
from backbeat.daemon.keeper import BACKOFF_S, EngineKeeper
from backbeat.engine.commands import EngineConfig, PortStatus, Telemetry
from backbeat.engine.errors import NoMidiApiError


def telemetry(api: str = "jack", connections: tuple[str, ...] = (), missing: tuple[str, ...] = ()) -> Telemetry:
    return Telemetry(
        time=0.0, state="stopped", tick=0, bpm=120.0, anchor_time=0.0, anchor_tick=0.0, p50_ms=0, p99_ms=0, max_ms=0,
        early_count=0, early_max_ms=0, samples=0, events_sent=0, dropped_stale=0,
        ports=(PortStatus("bb:out", "notes", True, connections, missing),), api=api, priority="normal",
        timer_slack_ns=None, clock="internal", pid=1,
    )


@dataclass
class FakeEngine:
    telemetry: Telemetry


class Factory:
    """Fails with each of ``failures`` in turn, then starts a fake engine; records when and how."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[float, EngineConfig]] = []

    def __call__(self, config: EngineConfig) -> FakeEngine:
        self.calls.append((trio.from_thread.run_sync(trio.current_time), config))
        if self.failures:
            raise self.failures.pop(0)
        return FakeEngine(telemetry())


def logs(sub) -> list[tuple[str, str]]:
    out = []
    while True:
        try:
            frame = sub.receive.receive_nowait()
        except trio.WouldBlock:
            return out
        out.append((frame["data"]["level"], frame["data"]["message"]))


@pytest.mark.trio
async def test_failed_starts_are_retried_on_the_backoff_and_told_once_per_reason(autojump_clock):
    bus = Bus()
    sub = bus.subscribe(["log"])
    jack_gone = NoMidiApiError("JACK is not usable: no JACK server is running")
    factory = Factory(jack_gone, jack_gone, OSError(24, "Too many open files"), jack_gone, jack_gone, jack_gone, jack_gone)
    keeper = EngineKeeper(EngineConfig(midi_api="auto"), bus, factory)
    start = trio.current_time()
    engine = await keeper.start()
    assert isinstance(engine, FakeEngine)
    waits = [round(t - start, 6) for t, _ in factory.calls]
    assert waits == [0, 0.25, 0.75, 1.75, 3.75, 7.75, 11.75, 15.75], "0.25, 0.5, 1, 2, 4 s, then every 4 s"
    assert BACKOFF_S[-1] == 4.0
    told = logs(sub)
    assert [level for level, _ in told] == ["error", "error", "error", "info"], "once per new reason"
    assert "Too many open files" in told[1][1] and "JACK" in told[2][1]
    assert told[-1][1] == "the engine is running again (after 7 failed starts)"
    assert keeper.error is None and keeper.attempts == 0 and keeper.retry_in() is None


@pytest.mark.trio
async def test_status_says_why_and_when_the_next_attempt_comes(autojump_clock):
    bus = Bus()
    sub = bus.subscribe(["log"])
    keeper = EngineKeeper(EngineConfig(), bus, Factory(OSError(24, "Too many open files"), OSError(24, "Too many open files")))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keeper.start)
        await sub.receive.receive()  # the first failure is told; the keeper now waits for its retry
        assert "Too many open files" in keeper.error and keeper.attempts == 1
        assert keeper.retry_in() == pytest.approx(BACKOFF_S[0])
    assert keeper.error is None and keeper.starts == 1 and keeper.restarts == 0 and keeper.attempts == 0


@pytest.mark.trio
async def test_a_replacement_keeps_the_api_found_and_the_virtual_ports_listeners(autojump_clock):
    factory = Factory()
    keeper = EngineKeeper(EngineConfig(midi_api="auto"), Bus(), factory)
    keeper.remember(telemetry("jack", connections=("synth:in",), missing=("mpc:midi_in",)))
    await keeper.start()
    config = factory.calls[-1][1]
    assert config.midi_api == "jack", "not ALSA or the terminal monitor while JACK restarts"
    assert config.restore == ("synth:in", "mpc:midi_in")
    keeper.remember(telemetry("monitor"))  # a fallback is not an API to insist on
    assert keeper.next_config().midi_api == "jack"
    named = EngineKeeper(EngineConfig(midi_api="alsa", ports=("FluidSynth",)), Bus(), factory)
    named.remember(telemetry("alsa", connections=("x:y",)))
    assert named.next_config() == EngineConfig(midi_api="alsa", ports=("FluidSynth",)), "named ports reconnect by name anyway"
