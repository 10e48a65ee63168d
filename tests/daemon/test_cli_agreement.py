"""A client's port options that disagree with the running daemon are said, never dropped (issue 9):
``backbeat play SESSION --midi-api jack`` with a daemon on another MIDI system used to play through
that daemon in silence."""

from __future__ import annotations

import argparse
import subprocess
import sys

from backbeat.commands.options import disagreements
from backbeat.generators import pipeline, session

STATUS = {"engine": {"api": "alsa"}, "ports": [{"name": "backbeat:out", "role": "notes", "up": True}]}


def args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**({"midi_api": None, "port": [], "clock_out": None, "follow_clock": None} | kw))


def play_session(daemon, tmp_path, prompt: str, *options: str) -> subprocess.CompletedProcess:
    """``backbeat play`` of a new session of ``prompt`` through ``daemon``, with ``options``."""
    folder = tmp_path / "session"
    folder.mkdir()
    session.write(folder, pipeline.compose_sync(prompt, seed=2, bars=4), [])
    return subprocess.run([sys.executable, "-m", "backbeat", "play", str(folder), *options, "--socket", str(daemon.socket)],
                          capture_output=True, text=True, timeout=60)


def test_options_left_out_or_agreeing_are_fine():
    assert disagreements(args(), STATUS) == []
    assert disagreements(args(midi_api="alsa", port=["backbeat"]), STATUS) == []
    assert disagreements(args(midi_api="auto"), STATUS) == []


def test_each_disagreeing_option_is_named_with_what_the_daemon_does():
    found = disagreements(args(midi_api="jack", port=["IAC"], clock_out=[""], follow_clock="MPC"), STATUS)
    assert found == [
        "--midi-api jack (the daemon plays through alsa)",
        "--port IAC (the daemon plays into backbeat:out)",
        "--clock-out (the daemon sends no MIDI clock)",
        "--follow-clock MPC (the daemon follows no clock)",
    ]
    assert disagreements(args(link=True), STATUS) == ["--link (the daemon is not in an Ableton Link session)"]
    linked = {**STATUS, "engine": {"api": "alsa", "link": {"peers": 1, "bpm": 120.0, "phase_offset_ms": 0.1, "start_stop": False}}}
    assert disagreements(args(link=True), linked) == []
    with_clock = {**STATUS, "ports": [{"name": "backbeat:out", "role": "notes+clock", "up": True}]}
    assert disagreements(args(clock_out=[""]), with_clock) == []


def test_play_through_a_daemon_on_another_midi_api_is_one_line_and_plays_nothing(daemon_process, tmp_path):
    run = play_session(daemon_process, tmp_path, "lofi study beats", "--midi-api", "jack")
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "--midi-api jack (the daemon plays through null)" in lines[0] and "backbeat shutdown" in lines[0]
    with daemon_process.client() as client:
        assert client.request("status")["transport"]["state"] == "stopped", "nothing was handed to the daemon"


MAPPED = {"engine": {"api": "jack"}, "ports": [
    {"name": "backbeat:out", "role": "notes", "up": True, "drum_map": "mpc-legacy"},
    {"name": "backbeat:gm-synth", "role": "notes", "up": True, "drum_map": "gm"},
    {"name": "backbeat:clock", "role": "clock", "up": True},
]}


def test_a_drum_map_the_daemon_sends_otherwise_is_named_with_the_port_and_its_map():
    assert disagreements(args(drum_map=["gm-synth=gm"]), MAPPED) == []
    assert disagreements(args(drum_map=["gm"]), {**MAPPED, "ports": MAPPED["ports"][1:]}) == []
    assert disagreements(args(drum_map=["out=mpc-legacy", "synth=gm"]), MAPPED) == []
    assert disagreements(args(drum_map=["out=mpc-chromatic"]), MAPPED) == [
        "--drum-map out=mpc-chromatic (the daemon sends backbeat:out's drums through mpc-legacy)"]
    # a bare map is every port no pattern names: both here
    assert disagreements(args(drum_map=["gm"]), MAPPED) == [
        "--drum-map gm (the daemon sends backbeat:out's drums through mpc-legacy)"]
    assert disagreements(args(drum_map=["gm"]), STATUS) == [], "a daemon that does not say its maps is not second-guessed"


def test_a_daemon_says_each_note_ports_drum_map_and_play_refuses_another(daemon_process, tmp_path):
    with daemon_process.client() as client:
        ports = client.request("status")["ports"]
    maps = {p["name"]: p.get("drum_map") for p in ports if "notes" in p["role"]}
    assert maps and set(maps.values()) == {"gm"}, ports
    run = play_session(daemon_process, tmp_path, "boom bap", "--drum-map", "mpc-legacy")
    assert run.returncode == 2, run.stderr
    assert "--drum-map mpc-legacy (the daemon sends" in run.stderr and "through gm)" in run.stderr, run.stderr
