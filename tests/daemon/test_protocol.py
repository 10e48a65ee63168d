"""The protocol core without I/O: framing limits and request validation."""

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbeat.daemon.framing import MAX_FRAME, Decoder, FrameError, encode
from backbeat.daemon.protocol import ARGS, ProtocolError, parse_request, request


def test_frames_round_trip_across_arbitrary_chunking():
    frames = [request(i, "status") for i in range(50)]
    data = b"".join(encode(f) for f in frames)
    decoder, got = Decoder(), []
    for i in range(0, len(data), 7):
        decoder.feed(data[i : i + 7])
        got.extend(decoder)
    assert got == frames


def test_a_frame_over_the_limit_is_refused_on_both_sides():
    with pytest.raises(FrameError) as e:
        encode({"type": "request", "blob": "x" * MAX_FRAME})
    assert e.value.code == "too_large"
    decoder = Decoder()
    with pytest.raises(FrameError) as e:
        decoder.feed(b"\xdb" + (MAX_FRAME + 10).to_bytes(4, "big"))  # a str header promising > 1 MiB
        decoder.feed(b"x" * (MAX_FRAME + 10))
        list(decoder)
    assert e.value.code == "too_large"


def test_non_map_frames_are_bad_frames():
    decoder = Decoder()
    decoder.feed(msgpack.packb([1, 2, 3]))
    with pytest.raises(FrameError) as e:
        list(decoder)
    assert e.value.code == "bad_frame"


@given(st.binary(max_size=200))
def test_garbage_bytes_never_escape_as_anything_but_frame_errors(data):
    decoder = Decoder()
    try:
        decoder.feed(data)
        for frame in decoder:
            assert isinstance(frame, dict)
    except FrameError:
        pass


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "hello"}, "bad_frame"),
        ({"type": "request", "id": "1", "cmd": "status"}, "bad_frame"),
        ({"type": "request", "id": 1, "cmd": "status", "extra": 1}, "bad_frame"),
        ({"type": "request", "id": 1, "cmd": "dance"}, "unknown_command"),
        ({"type": "request", "id": 1, "cmd": "tempo", "args": {"bpm": "fast"}}, "bad_args"),
        ({"type": "request", "id": 1, "cmd": "tempo", "args": {"bpm": 900}}, "bad_args"),
        ({"type": "request", "id": 1, "cmd": "tempo", "args": {}}, "bad_args"),
        ({"type": "request", "id": 1, "cmd": "jump", "args": {"section": True}}, "bad_args"),
        ({"type": "request", "id": 1, "cmd": "generate", "args": {"prompt": ""}}, "bad_args"),
        ({"type": "request", "id": 1, "cmd": "generate", "args": {"prompt": "x", "bars": 0}}, "bad_args"),
        ({"type": "request", "id": 1, "cmd": "mute", "args": {"track": "kazoo", "on": True}}, "bad_args"),
        ({"type": "request", "id": 1, "cmd": "status", "args": [1]}, "bad_args"),
    ],
)
def test_bad_requests_get_the_right_error_code(frame, code):
    with pytest.raises(ProtocolError) as e:
        parse_request(frame)
    assert e.value.code == code
    assert "\n" not in e.value.message


def test_every_documented_command_validates_its_example():
    examples = {
        "generate": {"prompt": "Frank Ocean meets Burial", "seed": 7, "bars": 32, "play": True, "gates": False},
        "play": {"session": "/tmp/x", "section": "chorus", "loop": False},
        "tempo": {"bpm": 124.0},
        "jump": {"section": 2, "quantize": "bar"},
        "regenerate": {"part": "bass"},
        "mute": {"track": "lead", "on": True},
        "subscribe": {"topics": ["transport", "swap"]},
        "learn": {"action": "jump:2"},
        "refine": {"text": "bass too busy"},
        "say": {"text": "what key is this in?"},
        "alternatives": {"part": "bass", "n": 3},
        "choose": {"part": "bass", "option": "B"},
        "ab": {"part": "drums"},
        "gate": {"choice": "edit", "text": "key D minor"},
    }
    for cmd in ARGS:
        parsed = parse_request(request(1, cmd, examples.get(cmd, {})))
        assert parsed.cmd == cmd


def test_every_command_of_the_protocol_has_exactly_one_handler():
    """protocol.ARGS (what the wire accepts) and the handler table (what the daemon does) are one list."""
    import trio

    from backbeat.daemon.bus import Bus
    from backbeat.daemon.commands import Commands
    from backbeat.daemon.server import CONNECTION_COMMANDS
    from backbeat.generators.settings import Settings

    commands = Commands(None, None, None, Bus(), Settings(), trio.Event())  # type: ignore[arg-type]
    assert set(commands.table).isdisjoint(CONNECTION_COMMANDS)
    assert set(ARGS) == set(commands.table) | CONNECTION_COMMANDS


def test_every_refusal_of_the_daemon_has_a_protocol_error_code():
    from backbeat.daemon import errors
    from backbeat.daemon.server import REFUSALS, refusal

    refusals = {c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.RefusedError) and c is not errors.RefusedError}
    assert refusals == set(REFUSALS)
    assert refusal(errors.NotFoundError("no section named 'bridge'")).code == "not_found"
