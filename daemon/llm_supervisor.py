"""The language model's pass over a song that already plays (DESIGN.md §3, "Speculation").

With a model configured, ``generate`` first composes the whole song algorithmically and plays it
exactly as without one (drafts take milliseconds, so the first note never waits for the model).
Then ``improve`` runs the LLM stages in the background, within the same job (a new ``generate``
cancels it):

1. intent, harmony and arrangement; if the model's plan differs from the draft's, a song with that
   plan and fresh algorithmic parts takes over at the next section boundary (``Player.load``);
2. the parts, one request per (part, section): each clip the model writes replaces its draft from
   the next section boundary beyond the commit horizon (``Player.put_clip``), and a ``buffer`` event
   says that clip's source is now ``llm`` (or ``cache``);
3. presets, effects and assembly; the session folder and its manifest (every stage's source,
   attempts and timing) follow.

A stalled or failing model never silences anything: the drafts play until a better clip is ready,
and every fallback is a warning on the log. A clip the producer changed meanwhile (regenerated,
refined) is never overwritten, and a plan is not swapped under a song that was refined.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from backbeat.generators import pipeline, sound
from backbeat.generators.errors import GeneratorError, first_error
from backbeat.generators.llm.stages import backend_for
from backbeat.generators.model import Clip, Part, SongState

from .protocol import BufferEvent, ClipState

if TYPE_CHECKING:
    from .supervisor import Supervisor

log = logging.getLogger(__name__)


def _same_plan(a: SongState, b: pipeline.Draft) -> bool:
    """Whether the model's plan plays like the song's: same tempo, key, chords and sections."""
    return (
        a.intent.tempo.bpm == b.intent.tempo.bpm
        and a.intent.key == b.intent.key
        and a.progression.chords == b.progression.chords
        and a.arrangement == b.arrangement
    )


class Improvement:
    """One background pass of the model over the song ``draft`` made."""

    def __init__(self, supervisor: Supervisor, draft: pipeline.Draft) -> None:
        self.sup = supervisor
        self.draft = draft
        self.session_id = draft.session_id
        self.versions: dict[tuple[str, int], int] = {}
        """Version of every clip as this pass last left it; a different live version means hands off."""
        self.history = 0
        self.active = True
        self.from_model = 0
        self._nursery: trio.Nursery | None = None

    def _warn(self, message: str) -> None:
        # The bus is the daemon's log (a foreground daemon echoes it to stderr): once, not twice.
        log.info(message)
        self.sup.bus.log("warning", message)

    def _live(self) -> SongState | None:
        return self.sup.player.song_of(self.session_id)

    def _remember(self, song: SongState) -> None:
        self.versions = {(t.part, c.section): c.version for t in song.tracks for c in t.clips}
        self.history = len(song.history)

    async def run(self) -> None:
        settings = self.sup.settings
        attempts = settings.stage_attempts
        fresh = pipeline.Draft(prompt=self.draft.prompt, seed=self.draft.seed, bars=self.draft.bars, session_id=self.session_id)
        start = self._live()
        self.history = len(start.history) if start is not None else 0
        async with backend_for(settings, on_clip=self._on_clip, warn=self._warn, budget_s=settings.llm_live_budget_s) as backend, \
                trio.open_nursery() as nursery:
            self._nursery = nursery
            self.sup.bus.log("info", "the language model is writing its version; the draft plays meanwhile")
            plan = await pipeline.compose_async(fresh, attempts=attempts, on_progress=self.sup._progress, backend=backend, until="arrangement")
            if not await self._take_over(plan):
                return
            done = await pipeline.compose_async(plan, attempts=attempts, on_progress=self.sup._progress, backend=backend)
        await self._finish(done)

    async def _take_over(self, plan: pipeline.Draft) -> bool:
        """Put the model's plan in place (if it differs); False when the song is gone or was changed."""
        live = self._live()
        if live is None:
            return False
        if _same_plan(live, plan):
            self._remember(live)
            return True
        if len(live.history) > self.history:
            self._warn("the model's plan arrived after the song was changed; the changed song stays")
            return False
        tracks = [await trio.to_thread.run_sync(pipeline.make_part, plan, part) for part in pipeline.PARTS]
        tracks = sound.with_effects(plan.intent, sound.with_presets(plan.intent, tracks))
        song = live.model_copy(update={
            "intent": plan.intent, "progression": plan.progression, "arrangement": plan.arrangement, "tracks": tracks,
        })
        change = self.sup.player.load(song)
        self._remember(song)
        self._publish(song)
        where = f" at bar {change.tick // self.sup.player.timeline.bar_ticks + 1}" if change is not None else ""
        self.sup.bus.log("info", f"the model's plan ({song.progression.key.label()}, {' → '.join(song.progression.symbols())}) takes over{where}")
        return True

    def _on_clip(self, part: Part, clip: Clip) -> None:
        """A clip the model wrote: it replaces the draft from the next section boundary."""
        live = self._live()
        if live is None or not self.active:
            return
        current = next((c for t in live.tracks if t.part == part for c in t.clips if c.section == clip.section), None)
        if current is None or current.version != self.versions.get((part, clip.section)):
            return  # changed by the producer meanwhile (or not in this song): theirs wins
        new = clip.model_copy(update={"version": current.version + 1})
        self.sup.player.put_clip(part, new, "section")
        self.versions[(part, clip.section)] = new.version
        self.from_model += 1
        self._publish(self._live())
        if self._nursery is not None:
            self._nursery.start_soon(self.sup.save)

    def _publish(self, song: SongState | None) -> None:
        if song is None:
            return
        tracks = {t.part: [ClipState(section=c.section, source=c.source, version=c.version) for c in t.clips] for t in song.tracks}
        self.sup.bus.publish("buffer", BufferEvent(tracks=tracks, ready_bars=song.arrangement.total_bars))

    async def _finish(self, done: pipeline.Draft) -> None:
        self.active = False
        if self._live() is None:
            return
        song = self.sup._with_live_changes(done.song())
        self.sup.player.update_song(song)
        self.sup.stages = done.stages
        await self.sup.save()
        fallbacks = [r.stage for r in done.stages if r.source in ("fallback", "budget")]
        note = f"; algorithmic fallback for {', '.join(fallbacks)}" if fallbacks else ""
        self.sup.bus.log("info", f"the model's version is in: {self.from_model} clips from the model{note}")


async def improve(supervisor: Supervisor, draft: pipeline.Draft) -> None:
    """Run the model's pass over the song of ``draft`` (already playing); never raises a
    ``GeneratorError``: whatever fails, the algorithmic song keeps playing."""
    try:
        await Improvement(supervisor, draft).run()
    except* GeneratorError as group:
        message = f"the model's version failed ({first_error(group)}); the algorithmic song stays"
        log.info(message)
        supervisor.bus.log("warning", message)
