"""The socket server against clients that misbehave, on real sockets: ``server.serve`` with a fake
command table, so each limit is measured on its own (the whole daemon under a descriptor limit is
tests/daemon/test_descriptors.py)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from backbeat.daemon import server
from backbeat.daemon.bus import QUEUE, Bus
from backbeat.daemon.client import DaemonClient
from backbeat.daemon.errors import BusyError, InvalidRequestError, NotRunningError
from backbeat.daemon.framing import Decoder, encode
from backbeat.daemon.protocol import Request, request
from backbeat.generators.settings import ServerSettings

pytestmark = pytest.mark.trio

FAST = ServerSettings(frame_timeout_s=0.3, auth_timeout_s=0.3, send_timeout_s=0.4)


class Table:
    """A fake command table: ``status`` answers at once, ``fail`` refuses with a huge message,
    ``slow`` answers after 0.1 s."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, req: Request) -> dict[str, Any]:
        self.seen.append(req.cmd)
        if req.cmd == "refine":
            raise InvalidRequestError("x" * 1_200_000)
        if req.cmd == "stop":
            await trio.sleep(0.1)
        return {"cmd": req.cmd}


@pytest.fixture
async def served(tmp_path: Path):
    async def start(limits: ServerSettings = FAST):
        bus, table = Bus(), Table()
        path = await nursery.start(server.serve, tmp_path / "run" / "d.sock", table, bus, "test", limits)
        return path, bus, table

    async with trio.open_nursery() as nursery:
        yield start
        nursery.cancel_scope.cancel()


async def connect(path: Path) -> tuple[trio.SocketStream, Decoder]:
    stream = await trio.open_unix_socket(str(path))
    return stream, Decoder()


async def frames(stream: trio.SocketStream, decoder: Decoder, timeout: float = 3.0) -> tuple[list[dict], bool]:
    """Everything the server sends until it closes the connection (or ``timeout``): (frames, closed)."""
    got: list[dict] = []
    with trio.move_on_after(timeout):
        while True:
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                return got, True
            if not data:
                return got, True
            decoder.feed(data)
            got.extend(decoder)
    return got, False


async def test_a_half_sent_frame_is_closed_after_its_timeout(served):
    path, bus, _ = await served()
    stream, decoder = await connect(path)
    await stream.send_all(encode(request(1, "status"))[:5])
    started = trio.current_time()
    got, closed = await frames(stream, decoder)
    assert closed and 0.25 < trio.current_time() - started < 2.0
    assert got[-1]["error"]["code"] == "timeout" and "half-sent" in got[-1]["error"]["message"]
    # a client idle between whole frames may stay
    stream, decoder = await connect(path)
    got, closed = await frames(stream, decoder, timeout=1.0)
    assert not closed and [f["type"] for f in got] == ["hello"]
    assert not bus.kept  # nothing of this is an error of the daemon's


async def test_requests_before_a_bad_frame_all_get_their_answers_first(served):
    path, _, table = await served()
    for _ in range(5):
        stream, decoder = await connect(path)
        good = b"".join(encode(request(i, cmd)) for i, cmd in enumerate(["status", "stop", "status"], 1))
        await stream.send_all(good + b"\xc1garbage")
        got, closed = await frames(stream, decoder)
        responses = [f for f in got if f["type"] == "response"]
        assert closed
        assert [r["id"] for r in responses[:3]] == [1, 3, 2] or sorted(r["id"] for r in responses[:3]) == [1, 2, 3]
        assert all(r["ok"] for r in responses[:3])
        assert responses[3]["id"] is None and responses[3]["error"]["code"] == "bad_frame"


async def test_an_oversize_error_message_is_cut_and_the_connection_carries_on(served):
    path, bus, _ = await served()
    stream, decoder = await connect(path)
    await stream.send_all(encode(request(1, "refine", {"text": "anything"})) + encode(request(2, "status")))
    got, closed = await frames(stream, decoder, timeout=1.0)
    by_id = {f["id"]: f for f in got if f["type"] == "response"}
    assert not closed
    assert by_id[1]["error"]["code"] == "bad_args"
    assert 100 < len(by_id[1]["error"]["message"]) <= 1000 and "cut" in by_id[1]["error"]["message"]
    assert by_id[2]["ok"]
    assert not bus.kept  # no "internal error" said to everyone


@pytest.mark.parametrize("name", [f"extra{'x' * 600_000}", "a"])
async def test_a_huge_unknown_field_name_gets_bad_args_with_a_cut_message(served, name):
    path, _, _ = await served()
    stream, decoder = await connect(path)
    await stream.send_all(encode(request(1, "status", {name: 1})))
    got, closed = await frames(stream, decoder, timeout=1.0)
    reply = next(f for f in got if f["type"] == "response")
    assert not closed and reply["error"]["code"] == "bad_args" and len(reply["error"]["message"]) <= 1000


async def test_a_client_that_never_reads_is_cut_off_and_its_queue_let_go(served):
    path, bus, _ = await served()
    stream, decoder = await connect(path)
    await stream.send_all(encode(request(1, "subscribe", {"topics": ["log"]})))
    with trio.fail_after(2):
        while bus.subscribers == 0:
            await trio.sleep(0.01)
    started = trio.current_time()
    for i in range(QUEUE * 8):  # far more than the socket buffers and the queue hold
        bus.publish("log", {"level": "info", "message": f"event {i} " + "y" * 2000})
        await trio.sleep(0)
    with trio.fail_after(3):
        while bus.subscribers:
            await trio.sleep(0.02)
    assert trio.current_time() - started < 2.0
    got, closed = await frames(stream, decoder, timeout=2.0)
    assert closed
    # another client is served as before
    other, other_decoder = await connect(path)
    await other.send_all(encode(request(1, "status")))
    got, _ = await frames(other, other_decoder, timeout=0.5)
    assert any(f.get("ok") for f in got)


async def test_a_slow_subscriber_is_told_why_before_it_is_cut_off(served):
    path, bus, _ = await served(ServerSettings(send_timeout_s=5.0))
    stream, decoder = await connect(path)
    await stream.send_all(encode(request(1, "subscribe", {"topics": ["log"]})))
    with trio.fail_after(2):
        while bus.subscribers == 0:
            await trio.sleep(0.01)
    for i in range(QUEUE + 10):  # queued at once: the client has no chance to read them
        bus.publish("log", {"level": "info", "message": f"event {i}"})
    got, closed = await frames(stream, decoder)
    assert closed
    assert got[-1]["event"] == "log" and "disconnecting" in got[-1]["data"]["message"]
    assert len([f for f in got if f.get("event") == "log"]) <= QUEUE + 1


async def test_beyond_the_client_cap_a_client_is_told_too_many_clients(served):
    path, bus, _ = await served(ServerSettings(max_clients=2))
    held = [await connect(path) for _ in range(2)]
    for stream, decoder in held:
        got, _ = await frames(stream, decoder, timeout=0.2)
        assert got[0]["type"] == "hello"
    stream, decoder = await connect(path)
    got, closed = await frames(stream, decoder)
    assert closed and got == [{"type": "response", "id": None, "ok": False, "error": {"code": "too_many_clients", "message": got[0]["error"]["message"]}}]
    busy = await trio.to_thread.run_sync(lambda: _client_error(path))
    assert isinstance(busy, BusyError) and "busy" in str(busy) and str(path) in str(busy)
    await held[0][0].aclose()
    await trio.sleep(0.05)
    answer = await trio.to_thread.run_sync(lambda: DaemonClient(path, timeout=2).request("status"))
    assert answer == {"cmd": "status"}


def _client_error(path: Path) -> Exception:
    try:
        DaemonClient(path, timeout=1).request("status")
    except Exception as e:
        return e
    raise AssertionError("the client was served")


async def test_no_daemon_is_not_a_busy_daemon(tmp_path: Path):
    (tmp_path / "run").mkdir(mode=0o700)
    error = _client_error(tmp_path / "run" / "d.sock")
    assert isinstance(error, NotRunningError) and not isinstance(error, BusyError)
    assert "no backbeat daemon is running" in str(error)


async def test_the_accept_loop_turns_clients_away_when_out_of_descriptors(served, monkeypatch):
    path, bus, _ = await served()
    real_accept = socket.socket.accept
    failing = {"left": 3}

    def accept(self):
        # EMFILE while the spare is held; once the spare is given up, the real accept goes ahead
        if failing["left"] and self.family == socket.AF_UNIX and self.getsockname() == str(path):
            failing["left"] -= 1
            if failing["left"] % 2 == 0:
                raise OSError(24, "Too many open files")
        return real_accept(self)

    monkeypatch.setattr(socket.socket, "accept", accept)
    stream, decoder = await connect(path)
    got, closed = await frames(stream, decoder)
    assert closed and got[0]["error"]["code"] == "too_many_clients" and "descriptors" in got[0]["error"]["message"]
    monkeypatch.setattr(socket.socket, "accept", real_accept)
    stream, decoder = await connect(path)
    await stream.send_all(encode(request(1, "status")))
    got, _ = await frames(stream, decoder, timeout=0.5)
    assert any(f.get("ok") for f in got)
    said = [f["data"]["message"] for f in bus.kept]
    assert len(said) == 1 and "out of descriptors" in said[0]


async def test_tcp_auth_a_non_ascii_token_a_silent_client_and_a_big_first_frame(served, monkeypatch):
    monkeypatch.setenv("BACKBEAT_TRANSPORT", "tcp")
    path, bus, _ = await served()
    port, token = (path.with_suffix(".token")).read_text().split()
    assert (path.with_suffix(".token").stat().st_mode & 0o777) == 0o600

    async def tcp() -> tuple[trio.SocketStream, Decoder]:
        return await trio.open_tcp_stream("127.0.0.1", int(port)), Decoder()

    stream, decoder = await tcp()
    await stream.send_all(encode(request(1, "auth", {"token": "tökén✓"})))
    got, closed = await frames(stream, decoder)
    assert closed and got[-1]["error"]["code"] == "unauthorized"

    stream, decoder = await tcp()  # says nothing at all
    got, closed = await frames(stream, decoder)
    assert closed and got[-1]["error"]["code"] == "timeout"

    stream, decoder = await tcp()  # a first frame far beyond an auth's size
    await stream.send_all(encode(request(1, "auth", {"token": "z" * 100_000}))[:50_000])
    got, closed = await frames(stream, decoder)
    assert closed and got[-1]["error"]["code"] == "too_large"

    stream, decoder = await tcp()
    await stream.send_all(encode(request(1, "auth", {"token": token})) + encode(request(2, "status")))
    got, closed = await frames(stream, decoder, timeout=0.5)
    assert [f.get("ok") for f in got if f["type"] == "response"] == [True, True]
    assert not bus.kept


async def test_a_decoder_knows_a_half_sent_frame():
    decoder = Decoder()
    data = encode(request(1, "status")) + encode(request(2, "status"))
    decoder.feed(data[:-3])
    assert len(list(decoder)) == 1 and decoder.pending == len(data) // 2 - 3
    decoder.feed(data[-3:])
    assert len(list(decoder)) == 1 and decoder.pending == 0
