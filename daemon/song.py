"""The live song: the one owner of the song the daemon performs, its session folder and its history.

``LiveSong`` holds the latest ``SongState`` (what plays, and what is about to take over at a
boundary), the session folder it belongs to, and the stage records of its manifest. Everything that
changes the song goes through it, one change at a time, each change landing on the timeline the way
it must (a part at the next section boundary beyond the horizon, a tempo at the next bar, a new
arrangement as a whole song at the next section boundary):

    regenerate · set_tempo · refine · make_alternatives · choose · switch (A/B) · undo

and so does what a pipeline run makes while the song plays (``daemon.composer`` lands the plan,
each part, the model's clips and plan through ``begin``, ``land_track``, ``land_clip``...).

It is the only writer of the session folder: every write takes ``_writing``, so a change never
interleaves with a save. A change is one history entry (``generators.revisions.commit`` when the
folder exists: with its undo snapshot and exactly the files that changed; in memory, and written with
the folder, while the first pipeline still runs). A new song's folder is created and finished once
its pipeline has made the whole song (``composed``). A write that fails — a full disk — keeps the
song in memory, playing: ``saver`` (``daemon.saving``) reports it and writes again until it can,
the latest song and any song replaced meanwhile whose last state is not on disk yet (``_unsaved``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import trio

from backbeat.generators import alternatives, edits, parts, revisions, session
from backbeat.generators.errors import BadRequestError, GeneratorError, SessionError
from backbeat.generators.llm.refining import understand
from backbeat.generators.model import PARTS, Alternative, Clip, Part, SongState, StageRecord, Track
from backbeat.generators.requests import Question
from backbeat.generators.requests import read as read_request
from backbeat.generators.settings import Settings

from .bus import Bus
from .errors import ConflictError, FailedError, InvalidRequestError, NotFoundError
from .player import Player, with_track
from .protocol import BufferEvent, ClipState, SectionInfo, SessionInfo, SongEvent
from .saving import Saver
from .state import Memory
from .timeline import Change

log = logging.getLogger(__name__)

PRE_GENERATED = 3
"""Alternatives made of each part of a new song, in the background, so A/B switches at once."""
REPLACED = 8
"""Songs kept for ``undo`` to bring back after another song replaced them."""


@dataclass(frozen=True, slots=True)
class Refinement:
    """What a refinement request came to."""

    question: str | None = None
    """Asked back (nothing changed)."""
    targets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    """The changes as the grammar read them."""
    corrections: list[str] = field(default_factory=list)
    change: Change | None = None
    """What landed first (None: nothing on the timeline, or a dry run)."""


class LiveSong:
    """The song being performed, and every way it changes."""

    def __init__(self, player: Player, bus: Bus, settings: Settings, memory: Memory) -> None:
        self.player = player
        self.bus = bus
        self.settings = settings
        self.memory = memory
        self.song: SongState | None = None
        """The latest version of the song (a change placed on the timeline is in it already)."""
        self.folder: Path | None = None
        """The song's session folder; None while its first pipeline still runs."""
        self.stages: list[StageRecord] = []
        """The stage records of the folder's manifest."""
        self.saver = Saver(bus, self._write)
        """Writes the folder, reports a write that failed (``saver.error``) and retries it."""
        self._changing = trio.Lock()  # one change at a time: each works on the song the last one left
        self._writing = trio.Lock()  # one writer of the folder, and it writes the latest song
        self._nursery: trio.Nursery | None = None
        self._partial: tuple[str | None, Path | None] = (None, None)
        """(session id, its unfinished folder, None if it could not be made) while a new song's
        pipeline runs."""
        self._composed: str | None = None
        """The song whose pipeline has finished: its folder may be created and finished."""
        self._unsaved: dict[str, _Unsaved] = {}
        """Songs whose latest state is not on disk yet (a write failed), by session id."""
        self._replaced: list[_Replaced] = []
        """Songs another song replaced (newest last), each with its folder: what ``undo`` brings
        back when the song now live has no change of its own."""
        self._own = 0
        """History entries the live song had when it became live (more: it was changed since)."""
        self._shown: SessionInfo | None = None
        """The song as the last ``song`` event described it."""
        player.on_song = self.publish_buffer  # a song that takes over at a boundary is news too

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Background work (saves, alternatives made after a new song) until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.saver.run)
            task_status.started()
            await trio.sleep_forever()

    def soon(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run ``fn(*args)`` in the background (it must handle its own errors)."""
        self._nursery.start_soon(fn, *args)

    @property
    def unsaved(self) -> bool:
        """A song's latest state is not on disk: a write failed and has not succeeded since."""
        return self.saver.error is not None or bool(self._unsaved)

    def current(self, session_id: str) -> SongState | None:
        """The live song if it is song ``session_id`` (a newer song may have replaced it)."""
        return self.song if self.song is not None and self.song.session_id == session_id else None

    def _keep(self, song: SongState) -> None:
        self.song = song
        self.player.update_song(song)

    def _require(self) -> SongState:
        if self.song is None or not self.song.tracks:
            raise ConflictError("no song is loaded")
        return self.song

    # --- what a pipeline run lands --------------------------------------------------------------------

    async def begin(self, song: SongState) -> Change | None:
        """Make ``song`` the live song: it plays on ``play``, or takes over at the next section boundary
        from one that plays (the change placed for that is returned). A new session has no folder yet."""
        async with self._changing:
            return self._begin(song)

    def _begin(self, song: SongState) -> Change | None:
        if self.song is None or self.song.session_id != song.session_id:
            if self.song is not None and self.folder is not None:  # a finished song: undo brings it back
                self._replaced = [*self._replaced, _Replaced(self.song, self.folder, self.stages, self._own)][-REPLACED:]
            self.folder, self.stages, self._own = None, [], len(song.history)
        self._keep(song)
        change = self.player.load(song)
        self.publish_buffer()
        return change

    async def land_track(self, session_id: str, track: Track) -> None:
        """A part the pipeline wrote joins the song (from the next bar when it is new)."""
        async with self._changing:
            if (song := self.current(session_id)) is None:
                return
            self._keep(with_track(song, track))
            self.player.put_track(track)
            self.publish_buffer()

    async def land_sound(self, session_id: str, tracks: list[Track]) -> None:
        """Instruments and effect chains chosen for the song's parts (the clips stay as they play)."""
        async with self._changing:
            if (song := self.current(session_id)) is None:
                return
            chosen = {t.part: t for t in tracks}
            kept = [
                t.model_copy(update={"preset": chosen[t.part].preset, "effects": chosen[t.part].effects})
                if t.part in chosen else t
                for t in song.tracks
            ]
            self._keep(song.model_copy(update={"tracks": kept}))

    async def land_clip(self, session_id: str, part: Part, clip: Clip, expected: int | None) -> int | None:
        """A better clip for one section of ``part``, from the next section boundary beyond the horizon,
        if that section still plays version ``expected`` (else the producer changed it: theirs wins).
        Returns the version it plays as, or None."""
        async with self._changing:
            song = self.current(session_id)
            track = next((t for t in song.tracks if t.part == part), None) if song is not None else None
            old = next((c for c in track.clips if c.section == clip.section), None) if track is not None else None
            if old is None or old.version != expected:
                return None
            new = clip.model_copy(update={"version": old.version + 1})
            self.player.put_clip(part, new, "section")
            clips = [new if c.section == new.section else c for c in track.clips]
            self._keep(with_track(song, track.model_copy(update={"clips": clips})))
            self.publish_buffer()
        self.soon(self.save)
        return new.version

    async def adopt(self, session_id: str, update: dict[str, object], stages: list[StageRecord]) -> bool:
        """Fields of the song as a finished pipeline made them (the model's intent and progression),
        and its stage records; False when the song is no longer ``session_id``."""
        async with self._changing:
            if (song := self.current(session_id)) is None:
                return False
            self.stages = stages
            if update:
                self._keep(song.model_copy(update=update))
        await self.save()
        return True

    def composing(self, session_id: str, partial: Path | None) -> None:
        """A pipeline run for song ``session_id`` builds it in ``partial`` (None: the folder could
        not be made; the song is written when the disk allows)."""
        self._partial = (session_id, partial)

    async def composed(self, session_id: str, stages: list[StageRecord]) -> bool:
        """Song ``session_id`` is whole: its folder is written and finished (now, or when the disk
        allows); False if that is still to come."""
        if self.current(session_id) is None:
            return False
        self.stages, self._composed = stages, session_id
        return await self.save()

    async def load(self, folder: Path) -> SongState:
        """The session in ``folder`` becomes the live song (stopped: it plays on ``play``).

        Raises:
            NotFoundError: no session there.
        """
        def read() -> tuple[SongState, list[StageRecord]]:
            try:
                session.clean(folder)  # what a write killed midway left behind
                return session.load_song(folder), session.load_manifest(folder).stage_timings
            except GeneratorError as e:  # not a session, or one that cannot be read (too long a name, no access)
                raise NotFoundError(str(e)) from None

        song, stages = await trio.to_thread.run_sync(read)
        await trio.to_thread.run_sync(self._remember, folder)
        async with self._changing:
            self._begin(song)
            self.folder, self.stages, self._composed = folder, stages, song.session_id
            self.publish_buffer()  # with its folder now
        return song

    def _remember(self, folder: Path) -> None:
        try:
            self.memory.remember(folder)
        except (GeneratorError, OSError) as e:  # the song plays on; only the next start would not find it
            self.bus.log("warning", f"could not remember {folder} for the daemon's next start: {e}")

    # --- the folder ------------------------------------------------------------------------------------

    async def save(self) -> bool:
        """Keep the session folder current: the latest song, written atomically file by file (files
        whose bytes did not change are left alone). False if that failed: it is reported, and
        written again when it can be (``saver``)."""
        return await self.saver.save()

    async def _write(self) -> None:
        """Write the latest song to its folder, and any earlier song whose last write failed. A new
        song's folder is created and finished once its pipeline is done; before that, that first
        write includes every change."""
        async with self._writing:
            song = self.song
            if song is not None and self._composed == song.session_id:
                entry = self._unsaved.get(song.session_id)
                if entry is None:
                    partial = self._partial[1] if self._partial[0] == song.session_id else None
                    entry = _Unsaved(song, self.stages, self.folder, partial)
                entry.song, entry.stages = song, self.stages
                self._unsaved[song.session_id] = entry
            finished, failure = [], None
            for session_id, entry in list(self._unsaved.items()):
                try:
                    new = entry.folder is None
                    final = await trio.to_thread.run_sync(entry.write, Path(self.settings.output_dir))
                except (GeneratorError, OSError) as e:
                    failure = failure or e
                    continue
                del self._unsaved[session_id]
                if song is not None and session_id == song.session_id:
                    self.folder, self._partial = final, (None, None)
                if new:
                    finished.append(final)
        if finished:
            self.publish_buffer()  # the song has its folder now
        for folder in finished:
            await trio.to_thread.run_sync(self._remember, folder)
            self.bus.log("info", f"session written to {folder}")
        if failure is not None:
            raise failure

    async def _record(self, before: SongState, after: SongState, action: str, request: str, targets: list[str]) -> tuple[SongState, bool]:
        """``after`` with its history entry, and whether the folder holds it now: written into the
        folder (the snapshot of ``before``, exactly the files that changed) when the song has one,
        else kept in memory for the folder's first write."""
        if self.folder is not None:
            async with self._writing:
                try:
                    song, _ = await trio.to_thread.run_sync(revisions.commit, self.folder, before, after, action, request, targets,
                                                             self.settings.undo_depth)
                    return song, True
                except (SessionError, OSError) as e:  # a full disk: the change is made, kept in memory, written later
                    self.saver.failed(e)
        return edits.with_history(after, action, request, targets, []), False

    # --- changes -----------------------------------------------------------------------------------------

    def _land(self, before: SongState, after: SongState, structure: bool) -> Change | None:
        """Put what changed on the timeline; the change that lands first."""
        if structure:
            return self.player.load(after)
        changes = []
        if after.bpm != before.bpm:
            tick = self.player.set_tempo(after.bpm)
            changes.append(Change("tempo", tick, f"{after.bpm:g} BPM", ()))
        for part in PARTS:
            old = next((t for t in before.tracks if t.part == part), None)
            new = next((t for t in after.tracks if t.part == part), None)
            if old is None or new is None:
                continue
            if new.clips != old.clips and (change := self.player.put_track(new, "section")) is not None:
                changes.append(change)
            if new.muted != old.muted:
                changes.append(self.player.mute(part, new.muted))
        return min(changes, key=lambda c: c.tick) if changes else None

    async def _change(self, before: SongState, after: SongState, action: str, request: str, targets: list[str],
                      *, structure: bool = False) -> Change | None:
        """The one way the producer's change enters the song: recorded, landed, kept."""
        song, written = await self._record(before, after, action, request, targets)
        change = self._land(before, song, structure)
        self._keep(song)
        if not written and self.folder is not None:  # the folder missed it: write the song as it is
            self.soon(self.save)
        self.publish_buffer()
        return change

    async def regenerate(self, part: Part) -> tuple[Change | None, int]:
        """A new version of ``part`` (its seed moved on), from the next section boundary; (the change, the newest version)."""
        async with self._changing:
            song = self.song
            if song is None:
                raise ConflictError("no song is loaded")
            if not any(t.part == part for t in song.tracks):
                raise ConflictError(f"the {part} part has not been written yet")
            old = song.track(part)
            params = old.params.model_copy(update={"seed": old.params.seed + 1})
            track = await trio.to_thread.run_sync(parts.regenerate, song, part, params)
            change = await self._change(song, with_track(song, track), "regenerate", f"regenerate {part}", [part])
            return change, max(c.version for c in track.clips)

    async def set_tempo(self, bpm: float) -> int:
        """A new tempo from the next bar (at once when stopped); the song keeps it (every time-based
        effect value recomputed, the folder saved). Returns the tick it starts at."""
        async with self._changing:
            song = self.song
            if song is None:
                return self.player.set_tempo(bpm)
            change = await self._change(song, edits.retempo(song, bpm), "tempo", f"tempo {bpm:g}", ["tempo", "effects"])
            return change.tick if change is not None else self.player.set_tempo(bpm)

    async def mute(self, part: Part, on: bool) -> Change:
        """Mute or unmute ``part`` from the next bar: a change to the song (kept, saved, undoable),
        so a later arrangement, a stop and play, or a restart keeps it; only on the timeline while
        the song's parts are still being written."""
        async with self._changing:
            song = self.song
            track = next((t for t in song.tracks if t.part == part), None) if song is not None else None
            if track is None or track.muted == on or self.current(song.session_id) is None:
                return self.player.mute(part, on)
            after = with_track(song, track.model_copy(update={"muted": on}))
            change = await self._change(song, after, "mute", f"{'mute' if on else 'unmute'} {part}", [part])
            return change if change is not None else self.player.mute(part, on)

    async def refine(self, text: str, *, dry_run: bool = False) -> Refinement:
        """Read ``text``, work it out on the song and land it (with ``dry_run``, only say what it would do)."""
        async with self._changing:
            before = self._require()
            reading = await trio.to_thread.run_sync(read_request, text, before)
            heard = {"read": reading.labels(), "corrections": [c.line for c in reading.corrections]}
            try:
                changes = reading if reading.understood else await understand(text, before, self.settings)
                proposal = await trio.to_thread.run_sync(revisions.revise, before, text, changes)
            except BadRequestError as e:
                raise InvalidRequestError("; ".join([*heard["corrections"], str(e)])) from None
            except GeneratorError as e:
                raise FailedError(str(e)) from None
            if isinstance(proposal, Question):
                return Refinement(question=proposal.text, **heard)
            if dry_run:
                return Refinement(targets=proposal.targets, notes=list(proposal.notes), **heard)
            change = await self._change(before, proposal.song, proposal.action, text, proposal.targets, structure=proposal.structure)
            self.bus.log("info", f"refine: {'; '.join(proposal.notes)}")
            return Refinement(targets=proposal.targets, notes=list(proposal.notes), change=change, **heard)

    async def make_alternatives(self, part: Part, n: int, *, asked: bool = True) -> list[Alternative]:
        """``n`` alternatives of ``part``, kept in the song: a history entry when a producer ``asked``
        (the ones made in the background after each song are not a change anyone made)."""
        async with self._changing:
            before = self._require()
            made = await trio.to_thread.run_sync(alternatives.make, before, part, n)
            after = alternatives.with_alternatives(before, part, made)
            if asked:
                await self._change(before, after, "alternatives", f"alternatives {part}", [part])
            else:
                self._keep(after)
        if not asked:
            await self.save()
        return made

    async def choose(self, part: Part, label: str) -> Change | None:
        async with self._changing:
            before = self._require()
            try:
                after = alternatives.choose(before, part, label)
            except BadRequestError as e:
                raise NotFoundError(str(e)) from None
            return await self._change(before, after, "choose", f"choose {part} {label}", [part])

    async def switch(self, part: Part) -> tuple[str, Change | None]:
        """A/B: the next alternative of ``part`` (cycling through those kept, making them if none)."""
        song = self._require()
        kept = song.alternatives.get(part, [])
        if not kept:
            await self.make_alternatives(part, PRE_GENERATED)
            song = self._require()
            kept = song.alternatives[part]
        current = song.track(part).params
        index = next((i for i, a in enumerate(kept) if a.track.params == current), -1)
        label = kept[(index + 1) % len(kept)].label
        return label, await self.choose(part, label)

    async def undo(self, *, redo: bool = False) -> tuple[list[str], Change | None]:
        """Take back the last change not yet undone (each undo one step further back), or with
        ``redo`` bring back the last one undone; landing as the change did. A song with no change
        of its own since it replaced another: undo brings that one back."""
        async with self._changing:
            if not redo and self._replaced and (self.song is None or len(self.song.history) == self._own):
                return await self._bring_back()
            before = self._require()
            if self.folder is None:
                raise ConflictError("the song's session folder is still being written; try again in a moment")
            async with self._writing:
                try:
                    revision = await trio.to_thread.run_sync(revisions.redo if redo else revisions.undo, self.folder)
                except BadRequestError as e:
                    raise ConflictError(str(e)) from None
            change = self._land(before, revision.song, before.arrangement != revision.song.arrangement)
            self._keep(revision.song)
            self.publish_buffer()
            return list(revision.notes), change

    async def _bring_back(self) -> tuple[list[str], Change | None]:
        """The song the live one replaced, live again (at the next section boundary while playing)."""
        previous = self._replaced.pop()
        self.song, self.folder, self.stages, self._own = previous.song, previous.folder, previous.stages, previous.own
        self._composed = previous.song.session_id
        change = self.player.load(previous.song)
        self.publish_buffer()
        await trio.to_thread.run_sync(self._remember, previous.folder)
        return [f"back to the previous song: {previous.song.intent.prompt} ({previous.folder.name})"], change

    async def pre_generate(self, session_id: str) -> None:
        """Alternatives of every part of the new song, quietly, for instant A/B."""
        for part in PARTS:
            song = self.current(session_id)
            if song is None or song.alternatives.get(part):
                continue
            try:
                await self.make_alternatives(part, PRE_GENERATED, asked=False)
            except (ConflictError, GeneratorError) as e:
                log.warning("alternatives of %s not made: %s", part, e)

    # --- what clients see ----------------------------------------------------------------------------

    def session_info(self) -> SessionInfo | None:
        """The song the player performs, as ``status.session`` reports it (its folder once written)."""
        song = self.player.song
        if song is None:
            return None
        starts = song.arrangement.start_bars()
        folder = self.folder if self.current(song.session_id) is not None else None
        return SessionInfo(
            path=str(folder) if folder else None,
            session_id=song.session_id, prompt=song.intent.prompt, key=song.progression.key.label(), bpm=song.bpm,
            sections=[SectionInfo(name=s.name, bars=s.bars, start_bar=b + 1) for s, b in zip(song.arrangement.sections, starts)],
        )

    def buffer_state(self) -> BufferEvent | None:
        """Which clips of which parts of the song the player performs exist, where each came from,
        and which parts are muted."""
        song = self.player.song
        if song is None:
            return None
        tracks = {t.part: [ClipState(section=c.section, source=c.source, version=c.version) for c in t.clips] for t in song.tracks}
        return BufferEvent(tracks=tracks, ready_bars=song.arrangement.total_bars if song.tracks else 0,
                           muted=self.player.muted())

    def publish_buffer(self) -> None:
        """Tell every client what changed: the buffer, and the whole song (``song``) when what
        ``status.session`` would say is not what was last sent."""
        if (state := self.buffer_state()) is None:
            return
        self.bus.publish("buffer", state)
        info = self.session_info()
        if info != self._shown:
            self._shown = info
            self.bus.publish("song", SongEvent(session=info, buffer=state))
            self.bus.publish("transport", self.player.transport())  # stopped, the tempo and section shown are the new song's

@dataclass(frozen=True, slots=True)
class _Replaced:
    """A finished song another one replaced, as it was then."""

    song: SongState
    folder: Path
    stages: list[StageRecord]
    own: int


@dataclass
class _Unsaved:
    """A song's latest state, to be written to its folder (finished, unfinished, or not made yet)."""

    song: SongState
    stages: list[StageRecord]
    folder: Path | None
    partial: Path | None

    def write(self, output_dir: Path) -> Path:
        """Write it (creating and finishing a new folder as needed); its finished folder."""
        if self.folder is not None:
            session.write(self.folder, self.song, self.stages)
            return self.folder
        if self.partial is None:
            self.partial = session.begin(output_dir, self.song.session_id)
        session.write(self.partial, self.song, self.stages)
        self.folder = session.finish(self.partial)
        return self.folder
