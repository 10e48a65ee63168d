import pytest

from backbeat.engine.errors import BadCommandError
from backbeat.engine.events import Event, Note, note_events
from backbeat.engine.scheduler import PANIC_CONTROLLERS, STOP_CONTROLLERS, Scheduler, Transport
from backbeat.engine.time import PPQ, TempoMap

from .fakes import Rig

ON, OFF, CC = 0x90, 0x80, 0xB0


def rig(bpm: float = 120.0, ports: tuple[str, ...] = ("out",)) -> Rig:
    return Rig(Scheduler(ports, TempoMap.constant(bpm)), now=100.0)


def notes(track: str, *specs: tuple[int, int, int]) -> list[Event]:
    """Events of notes (tick, duration, pitch) on channel 0, velocity 100."""
    return note_events(track, [Note(t, d, p, 100, 0) for t, d, p in specs])


def test_events_play_at_their_tick_deadlines_from_one_anchor():
    r = rig()
    r.scheduler.schedule(notes("bass", (0, 240, 40), (480, 240, 43), (960, 480, 45)))
    r.record(r.scheduler.start(r.now))
    r.advance(10)
    assert r.messages() == [
        (100.0, (ON, 40, 100)),
        (100.25, (OFF, 40, 0)),
        (100.5, (ON, 43, 100)),
        (100.75, (OFF, 43, 0)),
        (101.0, (ON, 45, 100)),
        (101.5, (OFF, 45, 0)),
    ]
    assert [s.at for s in r.sent] == [s.send.deadline for s in r.sent]
    assert r.scheduler.ledger.sounding() == []


def test_same_tick_order_is_offs_then_controllers_then_ons_across_tracks():
    r = rig()
    r.scheduler.schedule([Event(480, "a", (ON, 60, 90))])
    r.scheduler.schedule([Event(480, "b", (CC, 7, 100)), Event(0, "b", (ON, 62, 90))])
    r.scheduler.schedule([Event(480, "b", (OFF, 62, 0))])
    r.scheduler.start(r.now)
    r.advance(1)
    assert r.notes() == [(0, "b", (ON, 62, 90)), (480, "b", (OFF, 62, 0)), (480, "b", (CC, 7, 100)), (480, "a", (ON, 60, 90))]


def test_tempo_map_sets_deadlines():
    r = rig()
    r.scheduler.set_tempo(2 * PPQ, 60)
    r.scheduler.schedule(notes("x", (PPQ, PPQ, 60), (2 * PPQ, PPQ, 62), (3 * PPQ, PPQ, 64)))
    r.scheduler.start(r.now)
    r.advance(10)
    assert [d for d, _ in r.messages()] == [100.5, 101.0, 101.0, 102.0, 102.0, 103.0]


def test_tempo_change_while_playing_keeps_the_past_and_the_playhead():
    r = rig()
    r.scheduler.schedule(notes("x", *[(i * PPQ, PPQ // 2, 60) for i in range(8)]))
    r.scheduler.start(r.now)
    r.advance(1.25)  # playhead at 2.5 beats
    assert r.scheduler.playhead(r.now) == pytest.approx(2.5 * PPQ)
    r.scheduler.set_tempo(0, 60, now=r.now)  # a change "in the past": only the future moves
    assert r.scheduler.playhead(r.now) == pytest.approx(2.5 * PPQ)
    r.advance(10)
    ons = [d for d, m in r.messages() if m[0] == ON]
    assert ons[:3] == [100.0, 100.5, 101.0]
    assert ons[3:] == pytest.approx([101.75, 102.75, 103.75, 104.75, 105.75])


def test_replace_from_ends_exactly_the_notes_it_cuts_and_leaves_other_tracks():
    r = rig()
    r.scheduler.schedule(notes("lead", (0, 1920, 72), (480, 480, 74), (960, 960, 76)))
    r.scheduler.schedule(notes("bass", (0, 1920, 36)))
    r.scheduler.start(r.now)
    r.advance(0.1)
    # At tick 960: note 72 (sounding, in the ledger) is cut; 74 ends at 960 by itself (its off is
    # dropped and replaced); 76 starts at 960 and is dropped with its off.
    r.scheduler.replace_from("lead", 960, notes("lead", (960, 240, 79)), now=r.now)
    r.advance(10)
    assert r.notes() == [
        (0, "lead", (ON, 72, 100)),
        (0, "bass", (ON, 36, 100)),
        (480, "lead", (ON, 74, 100)),
        (960, "lead", (OFF, 72, 0)),
        (960, "lead", (OFF, 74, 0)),
        (960, "lead", (ON, 79, 100)),
        (1200, "lead", (OFF, 79, 0)),
        (1920, "bass", (OFF, 36, 0)),
    ]
    assert r.messages()[3][0] == 101.0


def test_a_drum_hit_retriggered_before_its_note_off_is_ended_first_and_its_old_note_off_swallowed():
    # The torture run's "ch 10 note 70 on at 104.018 s and again at 104.146 s, no note-off between":
    # the second hit starts while the first still sounds.
    r = rig()
    r.scheduler.schedule(note_events("drums", [Note(0, 480, 70, 100, 9), Note(240, 480, 70, 90, 9)]))
    r.scheduler.start(r.now)
    r.advance(5)
    assert r.notes() == [
        (0, "drums", (0x99, 70, 100)),
        (240, "drums", (0x89, 70, 0)),
        (240, "drums", (0x99, 70, 90)),
        (720, "drums", (0x89, 70, 0)),
    ]
    assert len(r.scheduler.ledger) == 0


def test_a_key_two_tracks_hold_sounds_until_the_last_of_them_ends_it():
    r = rig()
    r.scheduler.schedule(notes("chords", (0, 960, 60)))
    r.scheduler.schedule(notes("lead", (240, 240, 60)))
    r.scheduler.start(r.now)
    r.advance(5)
    assert r.notes() == [
        (0, "chords", (ON, 60, 100)),
        (240, "lead", (OFF, 60, 0)),
        (240, "lead", (ON, 60, 100)),
        (960, "chords", (OFF, 60, 0)),
    ]


def test_replace_from_cutting_a_retriggered_key_sends_one_note_off():
    r = rig()
    r.scheduler.schedule(notes("x", (0, 960, 60), (240, 960, 60)))
    r.scheduler.start(r.now)
    r.advance(0.2)  # both note-ons sent (tick 384)
    r.scheduler.replace_from("x", 480, [], now=r.now)
    r.advance(5)
    assert [m for _, _, m in r.notes()] == [(ON, 60, 100), (OFF, 60, 0), (ON, 60, 100), (OFF, 60, 0)]
    assert r.notes()[-1][0] == 480


def test_replace_from_with_nothing_cut_adds_no_note_offs():
    r = rig()
    r.scheduler.schedule(notes("x", (0, 480, 60), (960, 480, 62)))
    r.scheduler.replace_from("x", 960, [])
    r.scheduler.start(r.now)
    r.advance(5)
    assert r.notes() == [(0, "x", (ON, 60, 100)), (480, "x", (OFF, 60, 0))]


def test_forward_jump_with_its_own_continuation_queue():
    r = rig()
    r.scheduler.schedule(notes("x", (0, 960, 60), (960, 480, 62), (1920, 480, 64)))
    r.scheduler.start(r.now)
    r.advance(0.1)
    r.scheduler.jump(960, 4800, now=r.now)
    assert r.scheduler.pending_jump == (960, 4800)
    r.scheduler.schedule(notes("x", (4800, 240, 67)), now=r.now)  # after the jump: new continuation
    assert [e.tick for e in r.scheduler.queued_events()] == [4800, 5040]
    r.advance(10)
    # Note 60's off at 960 is >= at_tick: dropped, and the ledger ends 60 at the jump instead.
    assert r.notes() == [
        (0, "x", (ON, 60, 100)),
        (960, "x", (OFF, 60, 0)),
        (4800, "x", (ON, 67, 100)),
        (5040, "x", (OFF, 67, 0)),
    ]
    assert [d for d, _ in r.messages()] == [100.0, 101.0, 101.0, 101.25]
    assert r.scheduler.notices[-1] == Transport("jump", 4800, 101.0, from_tick=960)


def test_backward_jump_loops_a_song():
    r = rig()
    song = notes("x", (0, 240, 60), (480, 240, 62))
    r.scheduler.schedule(song)
    r.scheduler.start(r.now)
    r.scheduler.jump(960, 0, now=r.now)
    r.scheduler.schedule(song, now=r.now)
    r.advance(1.1)  # the first jump has executed at 101.0: the second pass is playing
    r.scheduler.jump(960, 0, now=r.now)
    r.scheduler.schedule(song, now=r.now)
    r.advance(1.5)
    ons = [d for d, m in r.messages() if m[0] == ON]
    assert ons == [100.0, 100.5, 101.0, 101.5, 102.0, 102.5]


def test_jump_now_and_a_new_jump_replacing_the_old_one_and_its_queue():
    r = rig()
    r.scheduler.schedule(notes("x", (0, 1920, 60)))
    r.scheduler.start(r.now)
    r.advance(0.2)
    r.scheduler.jump(1920, 0, now=r.now)
    r.scheduler.schedule(notes("x", (0, 240, 50)), now=r.now)
    r.scheduler.jump(None, 960, now=r.now)  # replaces the first jump and drops its queue
    r.scheduler.schedule(notes("x", (960, 240, 70)), now=r.now)
    r.advance(0.0)
    assert r.notes() == [(0, "x", (ON, 60, 100)), (192, "x", (OFF, 60, 0)), (960, "x", (ON, 70, 100))]
    assert r.messages()[1][0] == pytest.approx(100.2)
    r.advance(5)
    assert r.notes()[-1] == (1200, "x", (OFF, 70, 0))
    assert r.messages()[-1][0] == pytest.approx(100.45)


def test_jump_at_a_tick_already_played_executes_when_asked():
    r = rig()
    r.scheduler.start(r.now)
    r.advance(1.0)
    r.scheduler.jump(0, 480, now=r.now)
    r.scheduler.schedule(notes("x", (480, 240, 60)), now=r.now)
    r.advance(0.0)
    assert r.messages() == [(101.0, (ON, 60, 100))]


def test_stop_ends_what_sounds_and_drops_pending_and_start_drops_the_past():
    r = rig()
    r.scheduler.schedule(notes("x", (0, 960, 60), (480, 960, 64)))
    r.scheduler.start(r.now)
    r.advance(0.6)
    r.record(r.scheduler.stop(r.now))
    assert r.notes()[-4:] == [
        (576, "x", (OFF, 60, 0)), (576, "x", (OFF, 64, 0)), (576, "", (CC, 64, 0)), (576, "", (CC, 123, 0))
    ]
    assert r.scheduler.pending_events() == [] and len(r.scheduler.ledger) == 0
    assert r.scheduler.playhead(r.now + 5) == pytest.approx(576)
    r.scheduler.schedule(notes("x", (0, 240, 40), (960, 240, 48)))
    r.advance(1)
    r.scheduler.start(r.now, tick=480)
    r.advance(5)
    assert r.notes()[-2:] == [(960, "x", (ON, 48, 100)), (1200, "x", (OFF, 48, 0))]
    assert r.messages()[-2][0] == pytest.approx(r.now - 5 + 0.5)


def test_stop_sends_sustain_up_and_all_notes_off_on_every_channel_used_since_the_last_stop():
    r = rig(ports=("a", "b"))
    r.scheduler.schedule(notes("x", (0, 240, 60)) + [Event(0, "pad", (CC | 3, 64, 127))])
    r.scheduler.schedule(note_events("drums", [Note(480, 120, 36, 100, 9)]))
    r.scheduler.start(r.now)
    r.advance(2)  # everything has ended by itself: the ledger has nothing to end
    sends = r.scheduler.stop(r.now)
    assert STOP_CONTROLLERS == (64, 123)
    assert [(s.port, s.message) for s in sends] == [
        (p, (CC | ch, cc, 0)) for p in ("a", "b") for ch in (0, 3, 9) for cc in STOP_CONTROLLERS
    ]
    assert r.scheduler.stop(r.now) == [], "a second stop has no channel left to reset"


def test_panic_of_one_port_ends_its_notes_and_resets_only_it():
    r = rig(ports=("a", "b"))
    r.scheduler.schedule(notes("x", (0, 960, 60)))
    r.scheduler.start(r.now)
    r.advance(0.1)
    sends = r.scheduler.panic(r.now, "b")
    assert {s.port for s in sends} == {"b"} and sends[0].message == (OFF, 60, 0) and len(sends) == 1 + 48
    r.record(sends)
    r.advance(5)
    assert [(s.send.port, s.send.message) for s in r.sent if s.send.message[0] == OFF] == [("b", (OFF, 60, 0)), ("a", (OFF, 60, 0))]


def test_panic_ends_notes_then_resets_every_channel_of_every_port():
    r = rig(ports=("a", "b"))
    r.scheduler.schedule(notes("x", (0, 960, 60)))
    r.scheduler.start(r.now)
    r.advance(0.1)
    sends = r.scheduler.panic(r.now)
    assert [(s.port, s.message) for s in sends[:2]] == [("a", (OFF, 60, 0)), ("b", (OFF, 60, 0))]
    expected = [(p, (CC | ch, cc, 0)) for p in ("a", "b") for ch in range(16) for cc in PANIC_CONTROLLERS]
    assert [(s.port, s.message) for s in sends[2:]] == expected
    r.record(sends)
    r.advance(5)  # the note's own note-off is filtered: it is no longer sounding
    assert [s.send.message for s in r.sent if s.send.message[0] == OFF] == [(OFF, 60, 0)] * 2


def test_stale_note_ons_are_dropped_and_late_events_never_go_back_in_time():
    r = rig()
    r.scheduler.start(r.now)
    r.advance(1.0)
    r.scheduler.schedule(notes("x", (0, 240, 60)) + notes("x", (950, 100, 62)), now=r.now)
    r.advance(0.0)
    # 60 is a second late: dropped (its off filtered). 62 is 0.0104 s late: sent now, not earlier.
    assert r.scheduler.dropped_stale == 1
    assert r.messages() == [(101.0, (ON, 62, 100))]
    r.advance(1)
    assert r.messages()[1] == (pytest.approx(101.09375), (OFF, 62, 0))


def test_each_port_gets_each_event_and_its_own_ledger_entries():
    r = rig(ports=("a", "b"))
    r.scheduler.schedule(notes("x", (0, 480, 60)))
    r.scheduler.start(r.now)
    r.advance(0.1)
    assert r.scheduler.ledger.count(("a", 0, 60)) == 1 and r.scheduler.ledger.count(("b", 0, 60)) == 1
    r.advance(1)
    assert [(s.send.port, s.send.message) for s in r.sent] == [
        ("a", (ON, 60, 100)), ("b", (ON, 60, 100)), ("a", (OFF, 60, 0)), ("b", (OFF, 60, 0))
    ]


def test_bad_events_are_rejected_whole():
    s = Scheduler()
    with pytest.raises(BadCommandError):
        s.schedule([Event(0, "x", (ON, 60, 100)), Event(-1, "x", (ON, 60, 100))])
    with pytest.raises(BadCommandError):
        s.schedule([Event(0, "x", (0xF8,))])
    with pytest.raises(ValueError):
        s.set_tempo(0, 0.5)
    assert s.pending_events() == []
