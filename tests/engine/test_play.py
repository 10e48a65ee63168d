"""``backbeat play``'s feed loop end to end on the terminal monitor (no MIDI system needed)."""

from backbeat.engine.commands import EngineConfig
from backbeat.engine.events import Clip, Note
from backbeat.engine.time import TempoMap


def test_play_clips_plays_to_the_end_on_the_monitor(capfd):
    from backbeat.commands.play import play_clips

    clips = [
        Clip("bass", 0, 960, (Note(0, 240, 36, 100, 1), Note(480, 240, 43, 100, 1))),
        Clip("lead", 0, 960, (Note(240, 480, 72, 90, 3),)),
    ]
    config = EngineConfig(midi_api="monitor", tempo=TempoMap.constant(240), rt_priority=0, nice=0)
    assert play_clips(clips, config, title="two beats") == 0  # 960 ticks at 240 BPM: half a second
    out, err = capfd.readouterr()
    notes = [line.split()[1:4] for line in out.splitlines() if "--" not in line]
    assert notes == [["bass", "ch2", "C2"], ["lead", "ch4", "C5"], ["bass", "ch2", "G2"]]
    assert "playing two beats into terminal monitor (monitor) [monitor], 240 BPM" in err
    # the start-up panic (16 channels x 3 controllers), 6 notes, and stop's sustain-up and
    # all-notes-off on the two channels used
    assert "58 messages sent" in err
