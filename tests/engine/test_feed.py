from backbeat.engine.events import Note, note_events
from backbeat.engine.feed import Feed, Feeder
from backbeat.engine.scheduler import Scheduler
from backbeat.engine.time import TempoMap

from .fakes import Rig

SONG = note_events("x", [Note(t, 240, 60, 100, 0) for t in range(0, 1920, 480)])  # 4 beats, end 1920


def ticks(feeds: list[Feed]) -> list:
    return [f.jump if f.jump else [e.tick for e in f.events] for f in feeds]


def test_feeds_a_horizon_ahead_then_finishes():
    f = Feeder(SONG, 1920)
    assert ticks(f.feed(0, 500)) == [[0, 240, 480]]
    assert ticks(f.feed(400, 500)) == [[720]]
    assert ticks(f.feed(1500, 500)) == [[960, 1200, 1440, 1680]]
    assert not f.finished(1900) and f.finished(1920)


def test_looping_sends_the_jump_before_the_next_pass_and_counts_passes():
    f = Feeder(SONG, 1920, loop=True)
    f.feed(0, 500)
    assert ticks(f.feed(1600, 500)) == [[720, 960, 1200, 1440, 1680], (1920, 0), [0]]
    assert ticks(f.feed(1900, 500)) == [[240]]
    assert ticks(f.feed(100, 500)) == [[480]]  # the playhead went back: the second pass plays
    assert not f.finished(5000)


def test_rewind_feeds_again_from_a_tick():
    f = Feeder(SONG, 1920)
    f.feed(0, 5000)
    f.rewind(900)
    assert ticks(f.feed(900, 400)) == [[960, 1200]]


def test_a_looped_song_plays_seamlessly_through_the_scheduler():
    """The feeder and the scheduler together: three passes, every note at its exact time."""
    r = Rig(Scheduler(("out",), TempoMap.constant(120)), now=10.0)
    f = Feeder(SONG, 1920, loop=True)

    def feed() -> None:
        for item in f.feed(r.scheduler.playhead(r.now), 300):
            if item.jump:
                r.scheduler.jump(*item.jump, now=r.now)
            r.scheduler.schedule(item.events, now=r.now)

    feed()
    r.record(r.scheduler.start(r.now))
    for _ in range(60):  # 6 s = three passes of 2 s
        r.advance(0.1)
        feed()
    ons = [s.send.deadline for s in r.sent if s.send.message[0] == 0x90]
    assert ons == [10.0 + 0.5 * i for i in range(12)]
