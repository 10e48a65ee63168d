"""Composing while it plays: the daemon's pipeline jobs, landing what each run makes on the live song.

A ``generate`` is one run of ``generators.live.compose_live`` (DESIGN.md §3). What it reports lands
on the ``LiveSong`` the moment it exists: the plan loads the song's skeleton into the player, each
part joins at the next bar (with ``play`` the music starts with the first part; the others join
as they arrive), the finished song is the session folder. With a language model configured the
same run goes on with the model: a plan of its own that differs takes over at the next section
boundary, and each clip it writes replaces its draft from the next section boundary beyond the
commit horizon; the manifest then records every stage's source. Every stage's progress is a
``pipeline`` event.

With ``gates`` the run pauses after intent, harmony, arrangement and parts (``generators.gates``):
a ``gate`` event says what the stage made, and the producer's ``gate`` answer (keep, alternative,
edit, quit) goes on; the song lands whole once every gate is passed.

One job at a time: a new ``generate`` cancels the one running. A clip the producer changed
meanwhile (regenerated, refined) is never overwritten, and a plan is not swapped under a song that
was changed; a stalled or failing model never silences anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import trio

from backbeat.generators import gates, pipeline, session
from backbeat.generators.errors import BadRequestError, GeneratorError, first_error
from backbeat.generators.live import LiveListener, compose_live, plays_alike
from backbeat.generators.llm.stages import backend_for
from backbeat.generators.model import PARTS, Clip, Part, SongState, Track
from backbeat.generators.settings import Settings

from .bus import Bus
from .errors import ConflictError, InvalidRequestError, UnavailableError
from .protocol import GateEvent, PipelineEvent
from .song import LiveSong

log = logging.getLogger(__name__)

START_WAIT = 0.25
"""Seconds ``generate {play}`` waits for every part before it starts with the parts that exist."""
SUMMARY = {s.name: s.summary for s in pipeline.STAGES}


class Gate:
    """The approval gate a gated run waits at: one at a time, answered over the socket."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.waiting: GateEvent | None = None
        """The open gate (``status.gate``)."""
        self._answered: trio.MemorySendChannel[gates.Answer] | None = None

    async def ask(self, stage: str, draft: pipeline.Draft, problem: str | None) -> gates.Answer:
        """``gates.Ask``: say what ``stage`` made, and wait for the producer's answer."""
        send, receive = trio.open_memory_channel[gates.Answer](1)
        self.waiting, self._answered = GateEvent(stage=stage, summary=SUMMARY[stage](draft), problem=problem), send
        self.bus.publish("gate", self.waiting)
        try:
            return await receive.receive()
        finally:  # answered, or the run was cancelled: the gate closes either way
            closed = self.waiting.model_copy(update={"open": False})
            self.waiting, self._answered = None, None
            self.bus.publish("gate", closed)

    def answer(self, choice: str, text: str) -> None:
        """The producer's answer to the open gate.

        Raises:
            ConflictError: no gate is open.
            InvalidRequestError: an edit that says nothing.
        """
        if self._answered is None:
            raise ConflictError("no approval gate is waiting (generate with gates: true)")
        if choice == "edit" and not text.strip():
            raise InvalidRequestError("say what to change with edit, e.g. \"key D minor\"")
        self._answered.send_nowait(gates.Answer(choice, text.strip()))


class Composer:
    """The pipeline jobs of the daemon (one at a time) and what status says about them."""

    def __init__(self, live: LiveSong, bus: Bus, settings: Settings) -> None:
        self.live = live
        self.bus = bus
        self.settings = settings
        self.stage: str | None = None
        """The stage running now (None between stages)."""
        self._job: trio.CancelScope | None = None
        self.gate = Gate(bus)
        self.on_failure: Callable[[str], None] | None = None
        """Called with the line said when a new song could not be composed (a foreground
        ``backbeat play PROMPT`` then ends, exit code 1, instead of waiting with nothing to play)."""

    @property
    def running(self) -> bool:
        return self._job is not None

    def generate(self, prompt: str, *, seed: int | None, bars: int | None, play: bool, gated: bool = False,
                 loop: bool = True) -> pipeline.Draft:
        """Start composing ``prompt`` (cancelling the job running); the draft it starts from.

        Raises:
            InvalidRequestError: the prompt, seed or bars are not usable.
        """
        try:
            draft = pipeline.new_draft(prompt, seed=seed, bars=bars, drum_map=self.settings.drum_map)
        except BadRequestError as e:
            raise InvalidRequestError(str(e)) from None
        if self._job is not None:
            self._job.cancel()
            self.bus.log("info", "the previous generate was cancelled")
        self.live.soon(self._generate, draft, play, gated, loop)  # the live song's background work
        return draft

    def cancel(self) -> None:
        """Stop the job running, if any (its song was undone)."""
        if self._job is not None:
            self._job.cancel()

    def progress(self, p: pipeline.Progress) -> None:
        self.stage = p.stage if p.status in ("start", "retry") else None
        self.bus.publish("pipeline", PipelineEvent(stage=p.stage, index=p.index, status=p.status, message=p.message, duration_ms=p.duration_ms))

    async def _generate(self, draft: pipeline.Draft, play: bool, gated: bool = False, loop: bool = True) -> None:
        composition = Composition(self, draft, play, loop)
        with trio.CancelScope() as scope:
            self._job = scope
            try:
                await (composition.run_gated() if gated else composition.run())
            except* gates.Stop as group:
                self.bus.log("info", f"{first_error(group)}: nothing composed, the song before plays on")
            except* GeneratorError as group:
                if composition.whole:  # the model's pass failed: what plays is whole
                    composition.warn(f"the model's version failed ({first_error(group)}); the algorithmic song stays")
                else:
                    self._failed(f"generate failed: {first_error(group)}{resume_hint(composition.partial)}")
            except* Exception as group:  # a bug in composing must not stop the music or the daemon
                log.error("generate crashed", exc_info=group)
                self._failed(f"generate failed (internal error): {first_error(group)}{resume_hint(composition.partial)}")
            finally:
                if self._job is scope:
                    self._job, self.stage = None, None
        if composition.whole and not scope.cancelled_caught and self.live.current(draft.session_id) is not None:
            # for the song as it finally is (the model's plan, if any); not part of the job, so a
            # new generate does not cancel the alternatives of the song it replaces midway
            self.live.soon(self.live.pre_generate, draft.session_id)


    def _failed(self, line: str) -> None:
        self.bus.log("error", line)
        if self.on_failure is not None:
            self.on_failure(line)


def resume_hint(partial: Path | None) -> str:
    """How to continue a failed run's ``.partial`` folder, when one was left with a checkpoint."""
    if partial is None or not (partial / session.CHECKPOINT).is_file():
        return ""
    return f"; its folder {partial} continues with: backbeat generate --resume {partial}"


class Composition(LiveListener):
    """One run of the pipeline for one new song, and what it has landed on the live song so far."""

    def __init__(self, composer: Composer, draft: pipeline.Draft, play: bool, loop: bool = True) -> None:
        self.composer = composer
        self.live = composer.live
        self.bus = composer.bus
        self.draft = draft
        self.session_id = draft.session_id
        self.play = play
        self.loop = loop
        self.partial: Path | None = None
        self.arrived: set[Part] = set()
        self.everything = trio.Event()
        """Every part of the algorithmic song has landed."""
        self.versions: dict[tuple[str, int], int] = {}
        """Version of every clip as the model's pass last left it; a different live version means hands off."""
        self.history = 0
        """History entries the song had when the model's pass began (more: the producer changed it)."""
        self.from_model = 0
        self.whole = False
        """The algorithmic song is whole (its folder written, or to be written when the disk allows)."""
        self._nursery: trio.Nursery | None = None
        self._landing = 0
        self._settled = trio.Event()
        """No model clip is waiting to land."""
        self._settled.set()

    async def run(self) -> None:
        settings = self.composer.settings
        try:
            self.partial = await trio.to_thread.run_sync(session.begin, Path(settings.output_dir), self.session_id)
        except GeneratorError as e:  # a full disk: the song is made and played all the same
            self.live.saver.failed(e)
        self.live.composing(self.session_id, self.partial)

        def checkpoint(d: pipeline.Draft) -> None:
            if self.partial is None:
                return
            try:
                session.write_checkpoint(self.partial, d.model_dump_json().encode())
            except GeneratorError as e:  # the folder's final write carries everything anyway
                self.live.saver.failed(e)

        options = {"on_clip": self.clip, "warn": self.warn, "budget_s": settings.llm_live_budget_s} if settings.llm_configured else {}
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await compose_live(self.draft, self, attempts=settings.stage_attempts, checkpoint=checkpoint,
                               model=lambda: backend_for(settings, **options))

    async def run_gated(self) -> None:
        """The run with approval gates: each gated stage waits for the producer's answer; the song
        lands whole once they are all passed (what plays meanwhile goes on playing)."""
        settings = self.composer.settings
        done = await gates.compose_with_gates(self.draft, self.composer.gate.ask, attempts=settings.stage_attempts,
                                              on_progress=self.progress)
        try:
            self.partial = await trio.to_thread.run_sync(session.begin, Path(settings.output_dir), self.session_id)
        except GeneratorError as e:
            self.live.saver.failed(e)
        self.live.composing(self.session_id, self.partial)
        await self.live.begin(done.song())
        await self.live.composed(self.session_id, done.stages)
        self.whole = True
        if self.play and self.live.player.state != "playing":
            self.live.player.play()

    def warn(self, message: str) -> None:
        # The bus is the daemon's log (a foreground daemon echoes it to stderr): once, not twice.
        log.info(message)
        self.bus.log("warning", message)

    def _live(self) -> SongState | None:
        return self.live.current(self.session_id)

    # --- the algorithmic song ----------------------------------------------------------------------

    def progress(self, p: pipeline.Progress) -> None:
        self.composer.progress(p)

    async def plan(self, draft: pipeline.Draft) -> None:
        await self.live.begin(draft.song())
        if self.play:  # the parts are being written from now on
            self._nursery.start_soon(self._start_playing)

    async def track(self, draft: pipeline.Draft, track: Track) -> None:
        await self.live.land_track(self.session_id, track)
        self.arrived.add(track.part)
        if self.arrived >= set(PARTS):
            self.everything.set()

    async def _start_playing(self) -> None:
        # Start with every part when they come quickly (the algorithmic ones take milliseconds);
        # otherwise with what exists after START_WAIT: the rest join at a later bar.
        with trio.move_on_after(START_WAIT):
            await self.everything.wait()
        while not self.arrived:
            await trio.sleep(0.005)
        player = self.live.player
        if self._live() is not None and (player.state != "playing" or not self.loop):
            try:
                player.play(loop=self.loop)  # playing already: the new song, placed to take over, loops as asked
            except UnavailableError as e:  # no engine just now: the song is ready for ``play``
                self.warn(f"not playing yet: {e}")

    async def sound(self, draft: pipeline.Draft) -> None:
        await self.live.land_sound(self.session_id, draft.tracks)

    async def song(self, draft: pipeline.Draft) -> None:
        await self.live.composed(self.session_id, draft.stages)  # the folder, now or when the disk allows
        self.whole = True
        if (live := self._live()) is not None:
            self._remember(live)
        if self.composer.settings.llm_configured:
            self.bus.log("info", "the language model is writing its version; the draft plays meanwhile")

    # --- the model's pass ------------------------------------------------------------------------------

    def _remember(self, song: SongState) -> None:
        self.versions = {(t.part, c.section): c.version for t in song.tracks for c in t.clips}
        self.history = len(song.history)

    async def model_plan(self, plan: pipeline.Draft) -> bool:
        """Put the model's plan in place if it differs; False when the song is gone or was changed."""
        live = self._live()
        if live is None:
            return False
        if plays_alike(live, plan):
            self._remember(live)
            return True
        if len(live.history) > self.history or not plan.tracks:
            self.warn("the model's plan arrived after the song was changed; the changed song stays")
            return False
        song = live.model_copy(update={
            "intent": plan.intent, "progression": plan.progression, "arrangement": plan.arrangement, "tracks": plan.tracks,
        })
        change = await self.live.begin(song)
        self._remember(song)
        where = f" at bar {change.tick // self.live.player.timeline.bar_ticks + 1}" if change is not None else ""
        self.bus.log("info", f"the model's plan ({song.progression.key.label()}, {' → '.join(song.progression.symbols())}) takes over{where}")
        return True

    def clip(self, part: Part, clip: Clip) -> None:
        """A clip the model wrote: it replaces the draft from the next section boundary (landing
        waits for a change the producer is making: theirs comes first, and wins)."""
        if self._nursery is None or self._live() is None:
            return
        if not self._landing:
            self._settled = trio.Event()
        self._landing += 1
        self._nursery.start_soon(self._land_clip, part, clip)

    async def _land_clip(self, part: Part, clip: Clip) -> None:
        try:
            version = await self.live.land_clip(self.session_id, part, clip, self.versions.get((part, clip.section)))
            if version is not None:
                self.versions[(part, clip.section)] = version
                self.from_model += 1
        finally:
            self._landing -= 1
            if not self._landing:
                self._settled.set()

    async def model_song(self, done: pipeline.Draft) -> None:
        await self._settled.wait()
        live = self._live()
        if live is None:
            return
        # The model's reading of the prompt and its instruments and effect chains, unless the
        # producer changed the song meanwhile (then what they made stays, only the records change).
        untouched = len(live.history) == self.history
        update = {"intent": done.intent, "progression": done.progression} if untouched and plays_alike(live, done) else {}
        if update:
            await self.live.land_sound(self.session_id, done.tracks)
        await self.live.adopt(self.session_id, update, done.stages)
        fallbacks = [r.stage for r in done.stages if r.source in ("fallback", "budget")]
        note = f"; algorithmic fallback for {', '.join(fallbacks)}" if fallbacks else ""
        self.bus.log("info", f"the model's version is in: {self.from_model} clips from the model{note}")
