"""``backbeat play SESSION_DIR`` without a daemon: the daemon's player in the foreground, end to end
on the terminal monitor (no MIDI system needed)."""

import trio

from backbeat.daemon.solo import play_song
from backbeat.engine.commands import EngineConfig
from backbeat.engine.time import TempoMap
from backbeat.generators.model import Clip, Note
from tests.generators.songs import song as composed


def two_beats():
    """One 2/4 bar at 240 BPM (half a second): two bass notes and a lead note."""
    base = composed("pop song", 1, 4)
    a = base.arrangement
    section = a.sections[0].model_copy(update={"bars": 1})
    arrangement = a.model_copy(update={"sections": [section], "meter": a.meter.model_copy(update={"numerator": 2})})
    tempo = base.intent.tempo.model_copy(update={"bpm": 240.0})
    intent = base.intent.model_copy(update={"tempo": tempo})

    def track(part, channel, notes):
        clip = Clip(section=0, start_bar=0, bars=1, notes=[Note(tick=t, duration=d, pitch=p, velocity=v) for t, d, p, v in notes])
        return base.track(part).model_copy(update={"channel": channel, "clips": [clip]})

    tracks = [track("bass", 2, [(0, 240, 36, 100), (480, 240, 43, 100)]), track("lead", 4, [(240, 480, 72, 90)])]
    return base.model_copy(update={"intent": intent, "arrangement": arrangement, "tracks": tracks})


def test_a_session_plays_to_its_end_on_the_monitor(capfd):
    config = EngineConfig(midi_api="monitor", tempo=TempoMap.constant(240), rt_priority=0, nice=0)
    song = two_beats()
    played = trio.run(lambda: play_song(song, config, loop=False, title="two beats", horizon_s=0.2))
    assert played.signal is None
    out, err = capfd.readouterr()
    notes = [line.split()[1:4] for line in out.splitlines() if "--" not in line]
    assert notes == [["bass", "ch2", "C2"], ["lead", "ch4", "C5"], ["bass", "ch2", "G2"]]
    assert "playing two beats into terminal monitor (monitor) [monitor], 240 BPM" in err
    # the start-up panic (16 channels x 3 controllers), 6 notes, and stop's sustain-up and all-notes-off
    # on the two channels used
    assert played.telemetry.events_sent == 58


def test_a_looping_session_plays_on_past_its_end_until_sigint_then_ends_every_note(tmp_path):
    """The command itself, as a producer runs it with no daemon: ``--loop`` goes round, Ctrl-C stops."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from backbeat.generators import pipeline

    folder = trio.run(lambda: pipeline.run(pipeline.new_draft("Trap beat, dark, 240 BPM", seed=5, bars=2), tmp_path / "out"))
    env = {**os.environ, "BACKBEAT_SOCKET": str(tmp_path / "no-daemon.sock")}
    proc = subprocess.Popen([sys.executable, "-m", "backbeat", "play", str(folder), "--loop", "--midi-api", "monitor"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = []
        while not any("Ctrl-C stops" in line for line in said):  # playing: the engine runs
            line = proc.stderr.readline()
            assert line, "".join(said)
            said.append(line)
        time.sleep(5.0)  # two bars at 240 BPM: two seconds a pass
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        err = "".join(said) + err
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "stopped (every note ended)" in err and "messages sent" in err
    bars = {int(line.split()[0].split(".")[0]) for line in out.splitlines() if "--" not in line and line.strip()}
    assert max(bars) >= 4, "the performance went on past the song's two bars"
