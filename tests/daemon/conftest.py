"""A real daemon in-process (trio), its engine process recording every message it sends."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from backbeat.daemon import main as daemon_main
from backbeat.daemon.framing import Decoder, encode
from backbeat.daemon.protocol import request
from backbeat.daemon.state import Memory
from backbeat.engine.commands import EngineConfig
from backbeat.engine.monitor import read_record
from backbeat.generators.settings import PlaybackSettings, Settings


class TrioClient:
    """A minimal async client of the daemon socket for tests."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.decoder = Decoder()
        self.frames: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.next_id = 1

    @classmethod
    async def connect(cls, path: Path) -> TrioClient:
        client = cls(await trio.open_unix_socket(str(path)))
        hello = await client.read()
        assert hello["type"] == "hello" and hello["protocol"] == 1
        return client

    async def read(self) -> dict[str, Any]:
        while not self.frames:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError("daemon closed the connection")
            self.decoder.feed(data)
            self.frames.extend(self.decoder)
        return self.frames.pop(0)

    async def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        rid = self.next_id
        self.next_id += 1
        await self.stream.send_all(encode(request(rid, cmd, args)))
        while True:
            frame = await self.read()
            if frame["type"] == "event":
                self.events.append(frame)
            elif frame["type"] == "response" and frame["id"] == rid:
                return frame

    async def ok(self, cmd: str, **args: Any) -> dict[str, Any]:
        frame = await self.call(cmd, **args)
        assert frame["ok"], frame
        return frame["result"]

    async def wait_event(self, name: str, predicate=lambda data: True, timeout: float = 5.0) -> dict[str, Any]:
        for i, e in enumerate(self.events):
            if e["event"] == name and predicate(e["data"]):
                return self.events.pop(i)["data"]
        with trio.fail_after(timeout):
            while True:
                frame = await self.read()
                if frame["type"] == "event":
                    if frame["event"] == name and predicate(frame["data"]):
                        return frame["data"]
                    self.events.append(frame)

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass
class RunningDaemon:
    socket: Path
    record: Path
    output: Path
    nursery: trio.Nursery

    async def client(self) -> TrioClient:
        return await TrioClient.connect(self.socket)

    def recorded(self) -> list[tuple[int, str, tuple[int, ...] | str]]:
        return read_record(str(self.record)) if self.record.exists() else []


RECORD_STALE_AFTER = 60.0
"""Seconds late a note-on may come and still be recorded. These tests check *which* clip sounded at
every tick, through the recording sink; on a loaded machine an engine without real-time priority
can fall more than the default 0.1 s behind and drop notes as stale, which would make their outcome
depend on the machine's speed. The stale-note policy itself is tested in tests/engine."""


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[RunningDaemon]:
    record = tmp_path / "engine.record"
    settings = Settings(output_dir=tmp_path / "out", playback=PlaybackSettings(commit_horizon_ms=200))
    options = daemon_main.DaemonOptions(
        socket=tmp_path / "d.sock",
        engine=EngineConfig(midi_api="record", record_path=str(record), rt_priority=0, nice=0, stale_after=RECORD_STALE_AFTER),
        settings=settings,
        memory=Memory(tmp_path / "state.json"),
    )
    async with trio.open_nursery() as nursery:
        path = await nursery.start(daemon_main.run, options)
        yield RunningDaemon(path, record, tmp_path / "out", nursery)
        nursery.cancel_scope.cancel()


@dataclass
class DaemonProcess:
    """``backbeat daemon`` in a subprocess (what a producer runs), on a private socket and folders."""

    proc: subprocess.Popen[bytes]
    socket: Path
    output: Path

    def client(self):
        from backbeat.daemon.client import DaemonClient

        return DaemonClient(self.socket)


def start_daemon_process(tmp: Path, *extra: str) -> DaemonProcess:
    import os
    import sys

    from backbeat.daemon.client import wait_until_ready

    sock = tmp / "d.sock"
    env = {**os.environ, "OUTPUT_DIR": str(tmp / "out"), "XDG_STATE_HOME": str(tmp / "state"), "BACKBEAT_SOCKET": str(sock)}
    proc = subprocess.Popen([sys.executable, "-m", "backbeat", "--debug", "daemon", "--midi-api", "null", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not wait_until_ready(sock, proc):
        proc.kill()
        raise RuntimeError(f"the daemon did not start: {proc.stderr.read().decode(errors='replace')[-800:]}")
    return DaemonProcess(proc, sock, tmp / "out")


@pytest.fixture(scope="module")
def daemon_process(tmp_path_factory: pytest.TempPathFactory):
    d = start_daemon_process(tmp_path_factory.mktemp("daemon"))
    yield d
    d.proc.terminate()
    try:
        d.proc.wait(5)
    except subprocess.TimeoutExpired:
        d.proc.kill()
