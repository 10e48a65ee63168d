"""Bad input on the socket stays with its connection: error replies or a closed connection for that
client; the daemon, its other clients and the music carry on."""

import socket
import time

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backbeat.daemon.framing import MAX_FRAME, Decoder, encode
from backbeat.daemon.protocol import ARGS, request


def raw(daemon_process) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(str(daemon_process.socket))
    return s


def replies(s: socket.socket, wanted: int = 1, timeout: float = 3.0, *, hello: bool = False) -> tuple[list[dict], bool]:
    """Frames read until ``wanted`` responses (or, with ``hello``, the greeting) arrived or the
    daemon closed; (frames, closed)."""
    decoder, frames, end = Decoder(), [], time.monotonic() + timeout

    def done() -> bool:
        if hello:
            return any(f.get("type") == "hello" for f in frames)
        return sum(f.get("type") == "response" for f in frames) >= wanted

    while not done() and time.monotonic() < end:
        try:
            data = s.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return frames, True
        if not data:
            return frames, True
        decoder.feed(data)
        frames.extend(decoder)
    return frames, False


@pytest.fixture(scope="module")
def playing(daemon_process):
    with daemon_process.client() as c:
        c.request("generate", prompt="Trap beat, dark, 140 BPM", seed=5, bars=16, play=True)
        end = time.monotonic() + 10
        while c.request("status")["transport"]["state"] != "playing":
            assert time.monotonic() < end
            time.sleep(0.05)
    return daemon_process


def still_playing(daemon_process) -> None:
    with daemon_process.client() as c:
        first = c.request("status")
        time.sleep(0.3)
        second = c.request("status")
    assert second["transport"]["state"] == "playing"
    assert second["transport"]["tick"] > first["transport"]["tick"]
    assert second["engine"]["alive"]


def test_greeting_then_error_replies_for_unknown_commands_and_bad_args(playing):
    s = raw(playing)
    frames, _ = replies(s, hello=True)
    assert frames[0] == {"type": "hello", "protocol": 1, "version": frames[0]["version"]}
    s.sendall(encode(request(1, "dance")) + encode(request(2, "tempo", {"bpm": "fast"})) + encode(request(3, "status")))
    frames, closed = replies(s, 3)
    by_id = {f["id"]: f for f in frames if f.get("type") == "response"}
    assert not closed
    assert by_id[1]["error"]["code"] == "unknown_command"
    assert by_id[2]["error"]["code"] == "bad_args"
    assert by_id[3]["ok"] is True
    s.close()
    still_playing(playing)


def test_garbage_bytes_close_only_that_connection(playing):
    s, bystander = raw(playing), raw(playing)
    replies(bystander, hello=True)
    s.sendall(b"\xc1\xc1\xc1 this is not msgpack")
    frames, closed = replies(s, 2)  # the error reply, then the close
    assert closed
    assert [f["error"]["code"] for f in frames if f.get("type") == "response"] == ["bad_frame"]
    bystander.sendall(encode(request(9, "status")))
    frames, closed = replies(bystander, 1)
    assert not closed and frames[-1]["ok"]
    still_playing(playing)


def test_an_oversize_frame_is_refused_and_the_connection_closed(playing):
    s = raw(playing)
    s.sendall(b"\xdb" + (MAX_FRAME + 1000).to_bytes(4, "big") + b"x" * (MAX_FRAME + 1000))
    frames, closed = replies(s, 2, timeout=5)
    assert closed
    assert any(f.get("error", {}).get("code") == "too_large" for f in frames)
    still_playing(playing)


def test_a_client_that_never_reads_does_not_hold_anyone_up(playing):
    lazy = raw(playing)
    lazy.sendall(encode(request(1, "subscribe")))  # then never read a byte
    for _ in range(200):
        try:
            lazy.sendall(encode(request(2, "status")))
        except (BlockingIOError, TimeoutError, BrokenPipeError, ConnectionResetError):
            break
    still_playing(playing)
    lazy.close()


frames_strategy = st.one_of(
    st.binary(min_size=1, max_size=300),
    st.builds(lambda v: msgpack.packb(v, use_bin_type=True), st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=12)),
    st.builds(lambda cmd, args, rid: encode({"type": "request", "id": rid, "cmd": cmd, "args": args}),
              st.sampled_from([c for c in ARGS if c not in ("shutdown", "generate", "play", "stop", "toggle", "regenerate")] + ["nope"]),
              st.dictionaries(st.sampled_from(["bpm", "section", "quantize", "track", "on", "part", "topics", "x"]),
                              st.none() | st.integers(-5, 500) | st.text(max_size=10) | st.booleans(), max_size=3),
              st.integers(-2, 2**40)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(frames_strategy, min_size=1, max_size=4))
def test_random_frames_at_a_live_daemon_while_it_plays(playing, frames):
    s = raw(playing)
    try:
        replies(s, hello=True)
        s.sendall(b"".join(frames))
        got, closed = replies(s, len(frames), timeout=3)
        for f in got[1:] if got and got[0].get("type") == "hello" else got:
            if f.get("type") == "response":
                assert f["ok"] or set(f["error"]) == {"code", "message"}
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon closed this connection: allowed
    finally:
        s.close()
    with playing.client() as c:
        status = c.request("status")
    assert status["transport"]["state"] == "playing"
    assert status["engine"]["alive"]
