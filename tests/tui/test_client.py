"""The TUI's socket client against fake servers: greeting, requests by id, events, and bad bytes
(which must end in ``Disconnected`` and a retry, never in a crash)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest

from backbeat.daemon.framing import Decoder, encode
from backbeat.daemon.protocol import hello
from backbeat.tui.client import DaemonLink
from backbeat.tui.errors import NotConnected, RequestFailed
from backbeat.tui.messages import Connected, DaemonEvent, Disconnected

from .support import run

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
STATUS = {"transport": {"state": "stopped"}}


async def read_request(reader: asyncio.StreamReader, decoder: Decoder) -> dict[str, Any]:
    while True:
        for frame in decoder:
            return frame
        decoder.feed(await reader.read(65536))


def reply(frame: dict[str, Any], result: dict[str, Any]) -> bytes:
    return encode({"type": "response", "id": frame["id"], "ok": True, "result": result})


async def handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, decoder: Decoder) -> None:
    """Greet, then answer ``subscribe`` and ``status`` as the daemon does."""
    writer.write(encode(hello("test")))
    for _ in range(2):
        frame = await read_request(reader, decoder)
        writer.write(reply(frame, STATUS if frame["cmd"] == "status" else {"topics": []}))
    await writer.drain()


class FakeDaemon:
    """A Unix socket server that runs ``script`` for each connection and counts them."""

    def __init__(self, path: Path, script: Script) -> None:
        self.path, self.script, self.connections = path, script, 0

    async def __aenter__(self) -> FakeDaemon:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                await self.script(reader, writer)
            writer.close()

        self.server = await asyncio.start_unix_server(handle, str(self.path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


async def collect(path: Path, script: Script, until: Callable[[list[Any], FakeDaemon], bool], timeout: float = 5.0) -> tuple[list[Any], FakeDaemon]:
    """Run a client against ``script`` until ``until(messages, server)``; return what it posted."""
    posted: list[Any] = []
    async with FakeDaemon(path, script) as server:
        client = DaemonLink(posted.append, path, backoff=(0.01, 0.02))
        task = asyncio.create_task(client.run())
        try:
            async with asyncio.timeout(timeout):
                while not until(posted, server):
                    assert not task.done(), task.exception()
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return posted, server


def kinds(posted: list[Any], kind: type) -> list[Any]:
    return [m for m in posted if isinstance(m, kind)]


@pytest.mark.parametrize("garbage", [b"\xc1\xc1\xc1", msgpack.packb([1, 2, 3]), msgpack.packb(42)])
def test_garbage_from_the_server_disconnects_and_retries(tmp_path, garbage):
    async def script(reader, writer):
        writer.write(encode(hello("test")) + garbage)
        await writer.drain()
        await reader.read(1)

    posted, server = run(collect(tmp_path / "s.sock", script, lambda p, s: s.connections >= 3))
    gone = kinds(posted, Disconnected)
    assert gone and "bad frame" in gone[0].reason
    assert gone[0].first and not gone[-1].first
    assert not kinds(posted, Connected)


def test_garbage_after_connecting_fails_pending_requests_and_reconnects(tmp_path):
    async def script(reader, writer):
        await handshake(reader, writer, Decoder())
        writer.write(encode({"type": "event", "event": "log", "data": {"level": "info", "message": "hi"}}))
        writer.write(b"\xc1")
        await writer.drain()
        await reader.read(1)

    posted, server = run(collect(tmp_path / "s.sock", script, lambda p, s: len(kinds(p, Connected)) >= 2))
    assert kinds(posted, Connected)[0].status == STATUS
    assert kinds(posted, DaemonEvent)[0].data == {"level": "info", "message": "hi"}
    assert kinds(posted, Disconnected)[0].first


def test_a_daemon_of_another_protocol_is_refused(tmp_path):
    async def script(reader, writer):
        writer.write(encode({"type": "hello", "protocol": 99, "version": "9"}))
        await writer.drain()
        await reader.read(1)

    posted, _ = run(collect(tmp_path / "s.sock", script, lambda p, s: len(kinds(p, Disconnected)) >= 1))
    assert "protocol 99" in kinds(posted, Disconnected)[0].reason


def test_no_daemon_retries_with_backoff(tmp_path):
    async def body():
        posted: list[Any] = []
        client = DaemonLink(posted.append, tmp_path / "nobody.sock", backoff=(0.01, 0.02))
        task = asyncio.create_task(client.run())
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with pytest.raises(NotConnected):
            await client.request("status")
        return posted

    posted = run(body())
    assert len(posted) >= 3 and all(isinstance(m, Disconnected) for m in posted)
    assert [m.retry_in for m in posted[:3]] == [0.01, 0.02, 0.02]
    assert "no daemon answers" in posted[0].reason


def test_responses_are_matched_by_id_and_errors_raised(tmp_path):
    async def script(reader, writer):
        decoder = Decoder()
        await handshake(reader, writer, decoder)
        first, second = await read_request(reader, decoder), await read_request(reader, decoder)
        writer.write(reply(second, {"which": second["cmd"]}) + reply(first, {"which": first["cmd"]}))
        third = await read_request(reader, decoder)
        writer.write(encode({"type": "response", "id": third["id"], "ok": False, "error": {"code": "not_found", "message": "no section named 'x'"}}))
        writer.write(encode({"type": "response", "id": 999, "ok": True, "result": {}}))  # nobody asked: ignored
        writer.write(encode({"type": "surprise"}))  # a newer daemon's frame type: ignored
        await writer.drain()
        await read_request(reader, decoder)  # the fourth request is never answered: the connection drops

    async def body():
        posted: list[Any] = []
        async with FakeDaemon(tmp_path / "s.sock", script):
            client = DaemonLink(posted.append, tmp_path / "s.sock", backoff=(5.0,))
            task = asyncio.create_task(client.run())
            async with asyncio.timeout(5):
                while not client.connected:
                    await asyncio.sleep(0.01)
                a, b = await asyncio.gather(client.request("ports"), client.request("stop"))
                assert (a, b) == ({"which": "ports"}, {"which": "stop"})
                with pytest.raises(RequestFailed) as failed:
                    await client.request("jump", {"section": "x"})
                assert failed.value.code == "not_found" and "no section" in str(failed.value)
                with pytest.raises(NotConnected):
                    await client.request("status")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return posted

    posted = run(body())
    assert kinds(posted, Disconnected)[0].reason == "the daemon closed the connection"


def test_the_tui_never_imports_trio():
    code = "import sys, tui.app, backbeat.commands.tui; assert 'trio' not in sys.modules, 'trio imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_a_daemon_that_turns_the_client_away_is_busy_not_missing(tmp_path):
    async def script(reader, writer):
        writer.write(encode({"type": "response", "id": None, "ok": False,
                             "error": {"code": "too_many_clients", "message": "64 clients are connected (the cap)"}}))
        await writer.drain()

    posted, _ = run(collect(tmp_path / "s.sock", script, lambda p, s: len(kinds(p, Disconnected)) >= 1))
    assert kinds(posted, Disconnected)[0].reason == "the daemon is busy: 64 clients are connected (the cap)"
    assert not kinds(posted, Connected)


def test_a_socket_folder_others_can_change_is_never_trusted(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()

    async def script(reader, writer):
        await handshake(reader, writer, Decoder())
        await reader.read(1)

    folder.chmod(0o777)
    posted, server = run(collect(folder / "s.sock", script, lambda p, s: len(kinds(p, Disconnected)) >= 2))
    reason = kinds(posted, Disconnected)[0].reason
    assert str(folder) in reason and "0777" in reason, reason
    assert server.connections == 0 and not kinds(posted, Connected), "not a byte exchanged"
