"""Controller input: the map schema and action table (pure), and a real daemon driven by a JACK
"controller" (a virtual output port of this test, connected with jack_connect, on the dummy driver)."""

from __future__ import annotations

import threading
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from backbeat.generators.session import load_song
import trio
import trio.testing

from backbeat.daemon import controller as ctl
from backbeat.daemon import controller_port, perform
from backbeat.daemon import main as daemon_main
from backbeat.daemon.bus import Bus
from backbeat.daemon.controls import (
    ACTIONS, Binding, ControllerMap, ControllerMapError, dumps, find_map, load_map, parse_action, read_map,
    shipped_dir, user_path, with_binding,
)
from backbeat.daemon.state import Memory
from backbeat.engine.commands import EngineConfig
from backbeat.engine.errors import NoMidiApiError
from backbeat.generators.settings import PlaybackSettings, Settings
from tests.realtime.conftest import jack_server, unique  # noqa: F401 - jack_server is a fixture

from .conftest import TrioClient

# --- the action table and the map schema (pure) ---------------------------------------------------------


@pytest.mark.parametrize("text", [
    "jump:0", "jump:12", "jump:3:bar", "jump:3:section", "jump:next", "jump:previous", "mute:bass", "regenerate:lead",
    "ab:drums", "tempo:+1", "tempo:-5", "tempo:+0.5", "play", "panic",
])
def test_every_documented_action_parses(text):
    action = parse_action(text)
    assert action.verb in ACTIONS and action.text == text


@pytest.mark.parametrize("text", [
    "jump", "jump:", "jump:x", "jump:2:beat", "mute:guitar", "mute", "tempo:5", "tempo:+", "play:now", "play:", "panic:1",
    "shuffle", "", "ab:", "regenerate:drums:2",
])
def test_actions_outside_the_table_are_refused(text):
    with pytest.raises(ControllerMapError):
        parse_action(text)


def test_every_action_has_exactly_one_performer():
    assert perform.PERFORM.keys() == ACTIONS.keys()


def test_the_shipped_map_validates_and_covers_a_pad_grid():
    cmap, path = load_map("generic-pads")
    assert path == shipped_dir() / "generic-pads.toml"
    notes = {b.note: b.action for b in cmap.bindings if b.note is not None}
    assert sorted(notes) == list(range(36, 68)), "bank A 36-51 and bank B 52-67, every pad bound"
    assert [notes[n] for n in (36, 37, 38, 39)] == ["jump:1", "jump:2", "jump:3", "jump:4"], "first row: sections 1-4"
    assert {b.action for b in cmap.bindings if b.cc in (70, 71)} == {"tempo:+1", "tempo:-1", "tempo:+0.1", "tempo:-0.1"}
    verbs = {parse_action(b.action).verb for b in cmap.bindings}
    assert verbs == set(ACTIONS), "the default map shows every kind of action"
    assert cmap.port == ""


@pytest.mark.parametrize("binding, problem", [
    ({"note": 36, "cc": 1, "action": "panic"}, "exactly one"),
    ({"action": "panic"}, "exactly one"),
    ({"note": 36, "action": "panic", "when": "up"}, "for CCs"),
    ({"note": 128, "action": "panic"}, "less than or equal"),
    ({"cc": 1, "channel": 0, "action": "panic"}, "greater than or equal"),
    ({"cc": 1, "action": "tempo:fast"}, "bad action"),
    ({"cc": 1, "action": "panic", "when": "sometimes"}, "'on'"),
    ({"cc": 1, "action": "panic", "colour": "red"}, "Extra inputs"),
])
def test_bad_bindings_are_refused_with_the_reason(binding, problem, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(dumps(ControllerMap(name="x"), "bad").replace("bindings = [", "bindings = [\n  " + _inline(binding) + ","))
    with pytest.raises(ControllerMapError, match=problem) as e:
        read_map(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def _inline(fields: dict) -> str:
    return "{ " + ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in fields.items()) + " }"


def test_a_control_bound_twice_is_refused():
    with pytest.raises(ValueError, match="bound twice"):
        ControllerMap(name="x", bindings=(Binding(note=36, action="jump:0"), Binding(note=36, action="panic")))
    # the same CC may do different things on turning up and down, or on another channel
    ControllerMap(name="x", bindings=(
        Binding(cc=70, action="tempo:+1", when="up"), Binding(cc=70, action="tempo:-1", when="down"),
        Binding(cc=70, channel=2, action="panic", when="up"),
    ))


def test_maps_are_frozen_and_reject_unknown_fields():
    cmap = ControllerMap(name="x")
    with pytest.raises(ValueError):
        cmap.name = "y"  # type: ignore[misc]
    with pytest.raises(ValueError, match="Extra inputs"):
        ControllerMap.model_validate({"name": "x", "bindngs": []})


def test_a_written_map_reads_back_equal():
    cmap = ControllerMap(name='Pads "quoted" — ünïcode \\ back', description="a\nb", port="MPK mini", bindings=(
        Binding(note=36, channel=10, action="jump:2"), Binding(cc=70, action="tempo:+0.5", when="up"), Binding(cc=1, action="panic"),
    ))
    text = dumps(cmap, "mine")
    assert ControllerMap.model_validate(tomllib.loads(text)) == cmap
    assert '{ note = 36, channel = 10, action = "jump:2" },' in text, "one binding per line, like the shipped maps"


def test_learning_replaces_what_the_control_did():
    cmap = ControllerMap(name="x", bindings=(
        Binding(note=36, action="jump:0"), Binding(note=36, channel=2, action="panic"), Binding(note=37, action="jump:1"),
        Binding(cc=70, action="tempo:+1", when="up"), Binding(cc=70, action="tempo:-1", when="down"),
    ))
    learned = with_binding(cmap, Binding(note=36, channel=10, action="jump:2"))
    assert [(b.note, b.channel, b.action) for b in learned.bindings if b.note == 36] == [(36, 2, "panic"), (36, 10, "jump:2")]
    knob = with_binding(cmap, Binding(cc=70, channel=1, action="mute:bass"))
    assert [b.action for b in knob.bindings if b.cc == 70] == ["mute:bass"]


def test_the_users_copy_wins_over_the_shipped_map(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert find_map("generic-pads") == shipped_dir() / "generic-pads.toml"
    mine = user_path("generic-pads")
    mine.parent.mkdir(parents=True)
    mine.write_text(dumps(ControllerMap(name="mine"), "generic-pads"))
    assert load_map("generic-pads") == (ControllerMap(name="mine"), mine)
    with pytest.raises(ControllerMapError, match="maps: generic-pads"):
        find_map("no-such-map")
    for bad in ("../etc/passwd", "a/b", "generic-pads.toml", ""):
        with pytest.raises(ControllerMapError, match="bad controller map name"):
            find_map(bad)


def test_decoding_keeps_note_ons_and_ccs_only():
    assert ctl.decode([0x99, 36, 100]) == ctl.Control("note", 36, 10, 100)
    assert ctl.decode([0xB0, 70, 0]) == ctl.Control("cc", 70, 1, 0)
    for other in ([0x99, 36, 0], [0x89, 36, 64], [0xA9, 36, 20], [0xD0, 20], [0xE0, 0, 64], [0xF8], [0xC0, 5]):
        assert ctl.decode(other) is None, other


def test_bindings_match_by_channel_then_any_channel_and_by_trigger():
    cmap = ControllerMap(name="x", bindings=(
        Binding(note=36, action="jump:0"), Binding(note=36, channel=10, action="jump:2"),
        Binding(cc=70, action="tempo:+1", when="up"), Binding(cc=70, action="tempo:-1", when="down"),
        Binding(cc=20, action="panic"), Binding(cc=21, action="play", when="off"), Binding(cc=22, action="mute:bass", when="any"),
    ))
    b = ctl.Bindings(cmap)

    def actions(kind, number, channel, value, previous=None):
        return [x.action for x in b.match(ctl.Control(kind, number, channel, value), previous)]

    assert actions("note", 36, 10, 90) == ["jump:2"] and actions("note", 36, 1, 90) == ["jump:0"]
    assert actions("cc", 70, 1, 64) == [], "a knob's first message has no direction"
    assert actions("cc", 70, 1, 65, 64) == ["tempo:+1"] and actions("cc", 70, 1, 63, 64) == ["tempo:-1"]
    assert actions("cc", 20, 1, 127) == ["panic"] and actions("cc", 20, 1, 0) == []
    assert actions("cc", 21, 1, 0) == ["play"] and actions("cc", 21, 1, 127) == []
    assert actions("cc", 22, 1, 0) == ["mute:bass"] and actions("cc", 22, 1, 5, 5) == ["mute:bass"]


def test_the_controller_takes_the_engines_api_or_the_first_usable_one(monkeypatch):
    monkeypatch.setattr(controller_port, "choose_api", lambda requested: f"chosen {requested}")
    assert ctl.controller_api("jack") == "chosen jack"
    for no_midi in ("monitor", "null", "record", "auto"):
        assert ctl.controller_api(no_midi) == "chosen auto"


# --- from rtmidi's thread to trio -------------------------------------------------------------------


class FakeCommands:
    """Records the protocol requests the controller makes."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []

    async def dispatch(self, req) -> dict:
        self.requests.append((req.cmd, req.args.model_dump()))
        return {}


def test_callbacks_from_a_foreign_thread_enter_trio_only_through_the_token():
    """What ALSA, CoreMIDI and WinMM do: call back on rtmidi's own thread, as fast as messages come."""
    commands = FakeCommands()
    cmap = ControllerMap(name="t", bindings=(Binding(note=36, action="panic"),))
    box: dict = {}

    def rtmidi_thread(controller: ctl.Controller, messages: list[list[int]]) -> None:
        thread = threading.Thread(target=lambda: [controller.from_rtmidi(m) for m in messages])
        thread.start()
        thread.join()

    async def main() -> None:
        controller = box["controller"] = ctl.Controller("t", cmap, commands, None, Bus())  # type: ignore[arg-type]
        noise = [[0xA9, 36, 20], [0xF8], [0x89, 36, 0], [0x99, 36, 0]]  # aftertouch, clock, note-offs
        await trio.to_thread.run_sync(rtmidi_thread, controller, [[0x99, 36, 100]] * 100 + noise)
        await trio.testing.wait_all_tasks_blocked()
        assert controller.dropped == 100 - ctl.QUEUE, "a full channel drops (and counts), never blocks rtmidi's thread"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(controller._act_loop)
            with trio.fail_after(5):
                while len(commands.requests) < ctl.QUEUE:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert commands.requests == [("panic", {})] * ctl.QUEUE
    box["controller"].from_rtmidi([0x99, 36, 100])  # after the daemon's trio run has ended: ignored, no error


# --- a real daemon without a usable MIDI API ---------------------------------------------------------


@pytest.mark.trio
async def test_without_a_midi_api_the_daemon_runs_without_controller_input(tmp_path, monkeypatch, caplog):
    def unusable(requested):
        raise NoMidiApiError("no MIDI API is usable (ALSA: /dev/snd/seq is missing)")

    monkeypatch.setattr(controller_port, "choose_api", unusable)
    async with _daemon(tmp_path, EngineConfig(midi_api="record", record_path=str(tmp_path / "rec"), rt_priority=0, nice=0)) as socket:
        c = await TrioClient.connect(socket)
        assert (await c.ok("status"))["engine"]["alive"]
        frame = await c.call("learn", action="jump:2")
        assert frame["error"]["code"] == "unavailable" and "--controller" in frame["error"]["message"]
        frame = await c.call("learn", action="jump:two")
        assert frame["error"]["code"] == "bad_args", "a bad action is bad_args whether or not a controller runs"
        await c.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.name == "backbeat.daemon.controller"]
    assert warnings == ["controller input is off: no MIDI API is usable (ALSA: /dev/snd/seq is missing)"], "one line, with the fix"


# --- a real daemon, a JACK controller ------------------------------------------------------------------

@dataclass
class ControlledDaemon:
    socket: Path
    control_port: str
    """Full JACK name of the daemon's controller input (its virtual port)."""
    config: Path


@pytest.fixture
async def controlled(tmp_path, jack_server, monkeypatch) -> AsyncIterator[ControlledDaemon]:  # noqa: F811
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    client = unique("bb")
    async with _daemon(tmp_path, _jack_engine(client), controller="generic-pads") as socket:
        yield ControlledDaemon(socket, f"{client} control:control", tmp_path / "config")


def _jack_engine(client: str) -> EngineConfig:
    return EngineConfig(midi_api="jack", client_name=client, rt_priority=0, nice=0)


@asynccontextmanager
async def _daemon(tmp: Path, engine: EngineConfig, controller: str | None = "generic-pads") -> AsyncIterator[Path]:
    """An in-process daemon (as tests/daemon/conftest.py's fixture), optionally with a controller map;
    yields its socket."""
    options = daemon_main.DaemonOptions(
        socket=tmp / "d.sock", engine=engine,
        settings=Settings(output_dir=tmp / "out", playback=PlaybackSettings(commit_horizon_ms=200)),
        memory=Memory(tmp / "state.json"), controller=controller,
    )
    async with trio.open_nursery() as nursery:
        yield await nursery.start(daemon_main.run, options)
        nursery.cancel_scope.cancel()


class Pads:
    """This test's controller: a JACK client with one MIDI output port."""

    def __init__(self, name: str | None = None) -> None:
        import rtmidi

        self.client = name or unique("pads")
        self.midi = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=self.client)
        self.midi.open_virtual_port("out")
        self.port = f"{self.client}:out"

    async def connect(self, to: str) -> None:
        await trio.run_process(["jack_connect", self.port, to])
        with trio.fail_after(3):
            while f"   {to}\n" not in (await trio.run_process(["jack_lsp", "-c", self.port], capture_stdout=True)).stdout.decode():
                await trio.sleep(0.02)
        await trio.sleep(0.1)  # JACK routes through a new connection from its next graph reorder

    def note(self, note: int, channel: int = 10, velocity: int = 100) -> None:
        self.midi.send_message([0x90 | (channel - 1), note, velocity])
        self.midi.send_message([0x80 | (channel - 1), note, 0])  # the release does nothing

    def cc(self, cc: int, value: int, channel: int = 1) -> None:
        self.midi.send_message([0xB0 | (channel - 1), cc, value])

    def close(self) -> None:
        self.midi.close_port()
        self.midi.delete()


async def _playing(c: TrioClient) -> dict:
    await c.ok("subscribe", topics=["log", "swap", "transport"])
    await c.ok("generate", prompt="drum and bass roller, 174 BPM", seed=7, bars=16, play=True)
    await c.wait_event("transport", lambda d: d["state"] == "playing", timeout=10)
    return (await c.ok("status"))["session"]


def _logged(prefix: str):
    return lambda d: d["message"].startswith(prefix)


@pytest.mark.realtime
@pytest.mark.trio
async def test_pads_jump_mute_and_switch_versions(controlled):
    pads = Pads()
    try:
        await pads.connect(controlled.control_port)
        c = await TrioClient.connect(controlled.socket)
        session = await _playing(c)
        names = [s["name"] for s in session["sections"]]
        starts = {s["start_bar"] for s in session["sections"]}

        pads.note(38)  # row 1, pad 3: jump to section 2 at the next section boundary
        swap = await c.wait_event("swap", lambda d: d["kind"] == "jump" and not d["landed"])
        assert swap["detail"] == names[2]
        line = await c.wait_event("log", _logged("pad 38 → "))
        assert line["message"] == f"pad 38 → jump to {names[2]} at bar {swap['at_bar']}"
        pending = (await c.ok("status"))["pending"]
        landed = any(e["event"] == "swap" and e["data"] == {**swap, "landed": True} for e in c.events)
        assert {"kind": "jump", "at_bar": swap["at_bar"], "detail": names[2]} in pending or landed
        assert (swap["at_bar"] - 1) % 16 + 1 in starts, "a section jump lands on a section boundary"

        pads.note(60)  # bank B: section 0 at the next bar; it replaces the pending jump and lands
        bar_jump = await c.wait_event("swap", lambda d: d["kind"] == "jump" and not d["landed"] and d["detail"] == names[0])
        assert [p["detail"] for p in (await c.ok("status"))["pending"] if p["kind"] == "jump"] == [names[0]]
        landed = await c.wait_event("swap", lambda d: d["kind"] == "jump" and d["landed"], timeout=4)
        assert (landed["at_bar"], landed["tick"]) == (bar_jump["at_bar"], bar_jump["tick"])
        assert (await c.ok("status"))["transport"]["section"] == names[0]

        pads.note(45)  # row 3: mute bass (a toggle)
        await c.wait_event("log", _logged("pad 45 → mute bass from bar "))
        pads.note(45)
        await c.wait_event("log", _logged("pad 45 → unmute bass from bar "))

        pads.note(57)  # bank B row 2: A/B bass cycles through the bass alternatives the daemon keeps
        await c.wait_event("log", _logged("pad 57 → A/B bass: alternative A from bar "), timeout=8)
        pads.note(57)
        await c.wait_event("log", _logged("pad 57 → A/B bass: alternative B from bar "), timeout=8)
        folder = (await c.ok("status"))["session"]["path"]
        assert [a.label for a in load_song(Path(folder)).alternatives["bass"] if a.chosen] == ["A", "B"]

        assert len(names) < 8
        pads.note(43)  # row 2, pad 8: section 7, which this song does not have: a warning, nothing else
        missing = await c.wait_event("log", _logged("pad 43 → "))
        assert missing["level"] == "warning" and missing["message"].startswith("pad 43 → jump:8: there is no section 8")
        await c.aclose()
    finally:
        pads.close()


@pytest.mark.realtime
@pytest.mark.trio
async def test_knob_nudges_the_tempo_and_play_pad_toggles(controlled):
    pads = Pads()
    try:
        await pads.connect(controlled.control_port)
        c = await TrioClient.connect(controlled.socket)
        await _playing(c)
        bpm = (await c.ok("status"))["transport"]["bpm"]
        pads.cc(70, 64)  # K1's first message only sets where the knob is
        pads.cc(70, 65)
        up = await c.wait_event("log", _logged("CC 70 → "))
        assert up["message"].startswith(f"CC 70 → tempo {bpm + 1:g} BPM from bar ")
        pads.cc(70, 66)
        await c.wait_event("log", _logged(f"CC 70 → tempo {bpm + 2:g} BPM"))
        pads.cc(70, 60)
        await c.wait_event("log", _logged(f"CC 70 → tempo {bpm + 1:g} BPM"))
        await c.wait_event("swap", lambda d: d["kind"] == "tempo" and d["detail"] == f"{bpm + 1:g} BPM" and not d["landed"])

        pads.note(50)  # play/stop
        await c.wait_event("log", _logged("pad 50 → stop"))
        assert (await c.ok("status"))["transport"]["state"] == "stopped"
        pads.note(50)
        await c.wait_event("log", _logged("pad 50 → play from "))
        assert (await c.ok("status"))["transport"]["state"] == "playing"
        await c.aclose()
    finally:
        pads.close()


@pytest.mark.realtime
@pytest.mark.trio
async def test_learn_binds_the_next_control_and_saves_the_users_map(controlled, monkeypatch):
    pads = Pads()
    try:
        await pads.connect(controlled.control_port)
        c = await TrioClient.connect(controlled.socket)
        learner = await TrioClient.connect(controlled.socket)
        await _playing(c)
        names = [s["name"] for s in (await c.ok("status"))["session"]["sections"]]
        results: list[dict] = []

        async def learn() -> None:
            results.append(await learner.call("learn", action="jump:2"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(learn)
            await c.wait_event("log", _logged("learn: touch the pad"))
            pads.note(36)  # pad 1 jumps to section 1 in the shipped map; learn takes it instead
        assert results == [{"type": "response", "id": 1, "ok": True, "result": {"control": "note 36 ch 10", "action": "jump:2"}}]
        await c.wait_event("log", _logged("learned: note 36 ch 10 → jump:2 (saved to "))

        saved = user_path("generic-pads")
        assert saved.is_file() and saved.is_relative_to(controlled.config)
        cmap, path = load_map("generic-pads")
        assert path == saved, "the user's copy is what loads now"
        assert [b for b in cmap.bindings if b.note == 36] == [Binding(note=36, channel=10, action="jump:2")]
        assert len(cmap.bindings) == len(load_map_shipped().bindings), "the rest of the shipped map came along"
        assert not list(saved.parent.glob(".*.tmp")), "written atomically: no temp file left"

        pads.note(36)  # now pad 1 does what it learned
        await c.wait_event("log", _logged(f"pad 36 → jump to {names[1]} at bar "))  # jump:2, the second section

        monkeypatch.setattr(ctl, "LEARN_TIMEOUT_S", 0.3)
        timeout = await learner.call("learn", action="panic")
        assert timeout["error"]["code"] == "failed" and "within 0.3 s" in timeout["error"]["message"]
        await c.aclose()
        await learner.aclose()
    finally:
        pads.close()


def load_map_shipped() -> ControllerMap:
    return read_map(shipped_dir() / "generic-pads.toml")


@pytest.mark.realtime
@pytest.mark.trio
async def test_a_named_input_port_that_vanishes_is_logged_and_reconnected(tmp_path, jack_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    name = unique("mpd")
    mine = user_path("my-pads")
    mine.parent.mkdir(parents=True)
    mine.write_text(dumps(ControllerMap(name="My pads", port=name, bindings=(Binding(note=36, action="panic"),)), "my-pads"))
    pads = Pads(name)
    async with _daemon(tmp_path, _jack_engine(unique("bb")), controller="my-pads") as socket:
        c = await TrioClient.connect(socket)
        await c.ok("subscribe", topics=["log"])
        await trio.sleep(0.1)  # the daemon's connection to our port takes effect at JACK's next graph reorder
        pads.note(36)
        await c.wait_event("log", _logged("pad 36 → panic"))
        pads.close()  # unplugged
        gone = await c.wait_event("log", _logged("controller port"), timeout=3)
        assert gone == {"level": "warning", "message": f"controller port {name}:out vanished; backbeat reconnects when it returns"}
        pads = Pads(name)  # plugged in again
        back = await c.wait_event("log", _logged("controller port"), timeout=3)
        assert back == {"level": "info", "message": f"controller port {name}:out is back"}
        await trio.sleep(0.1)
        pads.note(36)
        await c.wait_event("log", _logged("pad 36 → panic"))
        await c.aclose()
    pads.close()
