"""The pipeline supervisor: runs the composer for the daemon and lands its results on the timeline.

A ``generate`` runs stages 1-3 (intent, harmony, arrangement: milliseconds), loads the song's
skeleton into the player, then generates the four parts concurrently, each landing on the timeline
the moment it exists — with ``play`` the music starts with the first part and the others join at the
next bar. Stages 5-7 and the session folder follow; the folder is kept current as parts change.
Every stage's progress is published as a ``pipeline`` event. One job at a time: a new ``generate``
cancels the one running. With a language model configured, the job goes on after the folder is
written: ``llm_supervisor.improve`` replaces the drafts with the model's version as it arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import trio

from backbeat.generators import edits, parts, pipeline, session
from backbeat.generators.errors import BadRequestError, GeneratorError, first_error
from backbeat.generators.model import HistoryEntry, Part, SongState, StageRecord, Track
from backbeat.generators.settings import Settings

from . import llm_supervisor
from .bus import Bus
from .player import Player
from .protocol import BufferEvent, ClipState, PipelineEvent, ProtocolError
from .saving import Saver
from .state import Memory
from .timeline import Change

log = logging.getLogger(__name__)

START_WAIT = 0.25
"""Seconds ``generate {play}`` waits for every part before it starts with the parts that exist."""


class Supervisor:
    def __init__(self, player: Player, bus: Bus, settings: Settings, memory: Memory) -> None:
        self.player = player
        self.bus = bus
        self.settings = settings
        self.memory = memory
        self.folder: Path | None = None
        """The current song's session folder (None while its first pipeline still runs)."""
        self.stages: list[StageRecord] = []
        self.stage: str | None = None
        self._nursery: trio.Nursery | None = None
        self._job: trio.CancelScope | None = None
        self._writing = trio.Lock()
        """One writer of the session folder at a time, and it always writes the latest song."""
        self._partial: tuple[str | None, Path | None] = (None, None)
        """(session id, its unfinished folder) while a new song's folder is not finished."""
        self._composed: str | None = None
        """The song whose pipeline has finished: its folder may be created and finished by ``save``."""
        self._unsaved: dict[str, _Unsaved] = {}
        """Songs whose latest state is not on disk yet (a write failed), by session id."""
        self.saver = Saver(bus, self._write)
        self.composed: Callable[[str], Awaitable[None]] | None = None
        """Started in the background once a new song's session folder exists (alternatives)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.saver.run)
            task_status.started()
            await trio.sleep_forever()

    @property
    def running(self) -> bool:
        return self._job is not None

    # --- generate ------------------------------------------------------------------------------------

    def generate(self, prompt: str, *, seed: int | None, bars: int | None, play: bool) -> pipeline.Draft:
        try:
            draft = pipeline.new_draft(prompt, seed=seed, bars=bars, drum_map=self.settings.drum_map)
        except BadRequestError as e:
            raise ProtocolError("bad_args", str(e)) from None
        if self._job is not None:
            self._job.cancel()
            self.bus.log("info", "the previous generate was cancelled")
        self._nursery.start_soon(self._generate, draft, play)
        return draft

    def _progress(self, p: pipeline.Progress) -> None:
        self.stage = p.stage if p.status in ("start", "retry") else None
        self.bus.publish("pipeline", PipelineEvent(stage=p.stage, index=p.index, status=p.status, message=p.message, duration_ms=p.duration_ms))

    async def _generate(self, draft: pipeline.Draft, play: bool) -> None:
        with trio.CancelScope() as scope:
            self._job = scope
            try:
                await self._compose(draft, play)
            except* GeneratorError as group:
                self.bus.log("error", f"generate failed: {first_error(group)}")
            except* Exception as group:  # a bug in composing must not stop the music or the daemon
                log.error("generate crashed", exc_info=group)
                self.bus.log("error", f"generate failed (internal error): {first_error(group)}")
            finally:
                if self._job is scope:
                    self._job, self.stage = None, None

    async def _compose(self, draft: pipeline.Draft, play: bool) -> None:
        output = Path(self.settings.output_dir)
        try:
            folder = await trio.to_thread.run_sync(session.begin, output, draft.session_id)
        except GeneratorError as e:  # a full disk: the song is made and played all the same
            folder = None
            self.saver.failed(e)
        self._partial = (draft.session_id, folder)
        attempts = self.settings.stage_attempts

        def checkpoint(d: pipeline.Draft) -> None:
            if folder is None:
                return
            try:
                session.write_checkpoint(folder, d.model_dump_json().encode())
            except GeneratorError as e:  # the folder's final write carries everything anyway
                self.saver.failed(e)
        draft = await pipeline.compose_async(draft, attempts=attempts, on_progress=self._progress, checkpoint=checkpoint, until="arrangement")
        self.player.load(draft.song())
        self._publish_buffer()
        started = trio.current_time()
        tracks: dict[Part, Track] = {}
        all_parts = trio.Event()

        async def one(part: Part) -> None:
            track = await trio.to_thread.run_sync(pipeline.make_part, draft, part)
            tracks[part] = track
            self.player.put_track(track)
            self._publish_buffer()
            if len(tracks) == len(pipeline.PARTS):
                all_parts.set()

        async def start_playing() -> None:
            # Start with every part when they come quickly (the algorithmic ones take milliseconds);
            # otherwise with what exists after START_WAIT: the rest join at a later bar.
            with trio.move_on_after(START_WAIT):
                await all_parts.wait()
            while not tracks:
                await trio.sleep(0.005)
            song = self.player.song
            if self.player.state != "playing" and song is not None and song.session_id == draft.session_id:
                try:
                    self.player.play()
                except ProtocolError as e:  # no engine just now: the song is ready for `play`
                    self.bus.log("warning", f"not playing yet: {e}")

        index = pipeline.STAGE_NAMES.index("parts") + 1
        self._progress(pipeline.Progress(index, "parts", "start", "Writing drums, bass, chords and lead..."))
        async with trio.open_nursery() as nursery:
            for part in pipeline.PARTS:
                nursery.start_soon(one, part)
            if play:
                nursery.start_soon(start_playing)
        ms = (trio.current_time() - started) * 1000
        draft = draft.model_copy(update={
            "tracks": [tracks[p] for p in pipeline.PARTS],
            "completed": [*draft.completed, "parts"],
            "stages": [*draft.stages, StageRecord(stage="parts", duration_ms=round(ms, 3))],
        })
        self._progress(pipeline.Progress(index, "parts", "done", pipeline.STAGES[index - 1].summary(draft), ms))
        checkpoint(draft)
        draft = await pipeline.compose_async(draft, attempts=attempts, on_progress=self._progress, checkpoint=checkpoint)
        self.player.update_song(self._with_live_changes(draft.song()))
        self.stages = draft.stages
        self._composed = draft.session_id
        await self.save()  # creates the folder (now, or when the disk allows: the saver retries)
        if self.settings.llm_configured:  # the model's version replaces the drafts as it arrives
            await llm_supervisor.improve(self, draft)
        if self.composed is not None:  # for the song as it finally is (the model's plan, if any)
            self._nursery.start_soon(self.composed, draft.session_id)

    def _with_live_changes(self, song: SongState) -> SongState:
        """``song`` as the pipeline finished it, with what changed live meanwhile (a part regenerated
        while stages 5-7 ran) kept: the playing clips and the history win."""
        live = self.player.song_of(song.session_id)
        if live is None:
            return song
        clips = {t.part: t.clips for t in live.tracks}
        tracks = [t.model_copy(update={"clips": clips.get(t.part, t.clips)}) for t in song.tracks]
        return song.model_copy(update={"tracks": tracks, "history": live.history})

    def buffer_state(self) -> BufferEvent | None:
        """Which clips of which tracks exist, and where each came from."""
        song = self.player.song
        if song is None:
            return None
        tracks = {t.part: [ClipState(section=c.section, source=c.source, version=c.version) for c in t.clips] for t in song.tracks}
        return BufferEvent(tracks=tracks, ready_bars=song.arrangement.total_bars if song.tracks else 0)

    def _publish_buffer(self) -> None:
        if (state := self.buffer_state()) is not None:
            self.bus.publish("buffer", state)

    async def set_tempo(self, bpm: float) -> int:
        """A new tempo from the next bar; the song keeps it (effect times recomputed, folder saved)."""
        at = self.player.set_tempo(bpm)
        if self.player.song is not None:
            self.player.update_song(edits.retempo(self.player.song, bpm))
            await self.save()
        return at

    # --- changes to the playing song ---------------------------------------------------------------

    def load_session(self, folder: Path) -> SongState:
        try:
            song = session.load_song(folder)
            manifest = session.load_manifest(folder)
        except BadRequestError as e:
            raise ProtocolError("not_found", str(e)) from None
        self.folder, self.stages = folder, manifest.stage_timings
        self._composed = song.session_id
        self._remember(folder)
        return song

    def _remember(self, folder: Path) -> None:
        try:
            self.memory.remember(folder)
        except (GeneratorError, OSError) as e:  # the song plays on; only the next start would not find it
            self.bus.log("warning", f"could not remember {folder} for the daemon's next start: {e}")

    async def regenerate(self, part: Part) -> Change:
        song = self.player.song
        if song is None:
            raise ProtocolError("conflict", "no song is loaded")
        if not any(t.part == part for t in song.tracks):
            raise ProtocolError("conflict", f"the {part} part has not been written yet")
        old = song.track(part)
        params = old.params.model_copy(update={"seed": old.params.seed + 1})
        track = await trio.to_thread.run_sync(parts.regenerate, song, part, params)
        change = self.player.put_track(track, "section")
        entry = HistoryEntry(
            at=datetime.now(timezone.utc).isoformat(timespec="seconds"), action="regenerate",
            request=f"regenerate {part}", targets=[part], files=[f"midi/{part}.mid", session.FULL, session.STATE],
        )
        new_song = self.player.song.model_copy(update={"history": [*self.player.song.history, entry]})
        self.player.update_song(new_song)
        await self.save()
        return change

    async def save(self) -> bool:
        """Keep the session folder current (``saving.Saver``): the latest state of the playing song,
        written atomically file by file (files whose bytes did not change are left alone). False if
        that failed: it is reported, and written again when it can be."""
        return await self.saver.save()

    async def _write(self) -> None:
        """Write the latest song to its folder, and any earlier song whose last write failed (a full
        disk: a song replaced meanwhile keeps its unsaved state here until it is written). A new
        song's folder is created and finished once its pipeline is done; before that, the
        pipeline's own final write includes every change."""
        async with self._writing:
            song = self.player.song
            if song is not None:  # a version of it about to take over (the model's plan) is the latest
                song = self.player.song_of(song.session_id) or song
            if song is not None and self._composed == song.session_id:
                entry = self._unsaved.get(song.session_id)
                if entry is None:
                    folder = self.folder if self.folder is not None and song.session_id in self.folder.name else None
                    partial = self._partial[1] if self._partial[0] == song.session_id else None
                    entry = _Unsaved(song, self.stages, folder, partial)
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
        for folder in finished:
            await trio.to_thread.run_sync(self._remember, folder)
            self.bus.log("info", f"session written to {folder}")
        if failure is not None:
            raise failure


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
