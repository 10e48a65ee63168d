"""Random command sequences against the scheduler: on every key note-ons and note-offs alternate
exactly (no stuck notes, no orphan note-offs, no second note-on for a sounding key), no time travel."""

from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from backbeat.engine.events import NOTE_OFF, NOTE_ON, Event, Note, note_events
from backbeat.engine.scheduler import Scheduler
from backbeat.engine.time import TempoMap

from .fakes import Rig

TRACKS = st.sampled_from(["drums", "bass", "lead"])
TICKS = st.integers(0, 3840)
# Few pitches and channels, so notes of different tracks and overlapping notes collide on one key.
NOTES = st.lists(
    st.builds(Note, TICKS, st.integers(1, 960), st.integers(60, 62), st.integers(1, 127), st.integers(0, 1)),
    max_size=6,
)
CONTROLS = st.lists(st.builds(lambda t, v: (t, v), TICKS, st.integers(0, 127)), max_size=2)


def events(track: str, notes: list[Note], controls: list[tuple[int, int]]) -> list[Event]:
    return note_events(track, notes) + [Event(t, track, (0xB1, 7, v)) for t, v in controls]


class SchedulerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rig = Rig(Scheduler(("a", "b"), TempoMap.constant(120)), now=1000.0)
        self.checked = 0  # sends already checked by the invariants
        self.sounding: set[tuple[str, int, int]] = set()
        self.last_deadline = float("-inf")

    @property
    def s(self) -> Scheduler:
        return self.rig.scheduler

    @rule(track=TRACKS, notes=NOTES, controls=CONTROLS)
    def schedule(self, track, notes, controls):
        self.s.schedule(events(track, notes, controls), now=self.rig.now)

    @rule(track=TRACKS, tick=TICKS, notes=NOTES, controls=CONTROLS)
    def replace_from(self, track, tick, notes, controls):
        later = [n for n in notes if n.tick >= tick]
        self.s.replace_from(track, tick, events(track, later, [c for c in controls if c[0] >= tick]), now=self.rig.now)

    @rule(at_tick=st.none() | TICKS, to_tick=TICKS)
    def jump(self, at_tick, to_tick):
        self.rig.record(self.s.jump(at_tick, to_tick, now=self.rig.now))

    @rule(tick=st.none() | TICKS)
    def start(self, tick):
        self.rig.record(self.s.start(self.rig.now, tick))

    @rule(tick=TICKS, bpm=st.floats(40, 240))
    def set_tempo(self, tick, bpm):
        self.s.set_tempo(tick, bpm, now=self.rig.now)

    @rule(seconds=st.floats(0, 3))
    def advance(self, seconds):
        self.rig.advance(seconds)

    @rule()
    def stop(self):
        self.rig.record(self.s.stop(self.rig.now))
        self.check_sends()
        assert len(self.s.ledger) == 0
        assert not self.sounding, "every note-on is matched by a later note-off after a stop"

    @rule()
    def panic(self):
        self.rig.record(self.s.panic(self.rig.now))
        self.check_sends()
        assert len(self.s.ledger) == 0 and not self.sounding

    @invariant()
    def check_sends(self):
        for sent in self.rig.sent[self.checked :]:
            send = sent.send
            assert send.deadline >= self.last_deadline, "sends go out in nondecreasing deadline order"
            assert sent.at >= send.deadline, "never early"
            self.last_deadline = send.deadline
            if sent.kind == NOTE_ON:
                assert sent.key not in self.sounding, f"a second note-on for sounding {sent.key}"
                self.sounding.add(sent.key)
            elif sent.kind == NOTE_OFF:
                assert sent.key in self.sounding, f"note-off without a note-on for {sent.key}"
                self.sounding.remove(sent.key)
        self.checked = len(self.rig.sent)

    @invariant()
    def ledger_matches_the_wire(self):
        assert {r.key for r in self.s.ledger.sounding()} == self.sounding

    @invariant()
    def every_planned_note_ends(self):
        """What sounds plus what is pending ends with nothing sounding (replace and jump cut cleanly)."""
        jump = self.s.pending_jump
        if jump is None:
            counts = Counter({(r.track, *r.key[1:]): r.count for r in self.s.ledger.sounding() if r.key[0] == "a"})
            plan = self.s.pending_events()
        else:
            counts, plan = Counter(), self.s.queued_events()
        for ev in plan:
            key = (ev.track, ev.channel, ev.message[1])
            if ev.kind == NOTE_ON:
                counts[key] += 1
            elif ev.kind == NOTE_OFF and counts[key] > 0:
                counts[key] -= 1
        assert not +counts, f"notes that nothing will end: {+counts}"

    def teardown(self):
        self.stop()


SchedulerMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestScheduler = SchedulerMachine.TestCase
