"""Refinement and alternatives, live: a change lands at the next section boundary beyond the horizon.

A request is worked out on the playing song (``generators.revisions.revise``, in a worker thread),
then put on the timeline: regenerated parts as new clip versions, a new tempo from the next bar, a
changed arrangement as a whole new song taking over at the next section boundary. The session folder
gets the history entry (with its undo snapshot) and exactly the files that changed. After a song is
composed, alternatives of every part are made in the background, so A/B switching (TUI, controller)
is instant.
"""

from __future__ import annotations

import logging

import trio

from backbeat.generators import alternatives, revisions
from backbeat.generators.edits import now_iso
from backbeat.generators.errors import BadRequestError, GeneratorError, SessionError
from backbeat.generators.llm.refining import understand
from backbeat.generators.model import PARTS, HistoryEntry, Part, SongState
from backbeat.generators.requests import Question, read

from .player import Player
from .protocol import ProtocolError
from .supervisor import Supervisor
from .timeline import Change

log = logging.getLogger(__name__)

PRE_GENERATED = 3
"""Alternatives made for each part of a new song, in the background."""


class Refiner:
    def __init__(self, player: Player, supervisor: Supervisor) -> None:
        self.player = player
        self.supervisor = supervisor
        self._lock = trio.Lock()  # one change at a time: each works on the song the last one left

    def _song(self) -> SongState:
        song = self.player.song
        if song is None or not song.tracks:
            raise ProtocolError("conflict", "no song is loaded")
        return song

    async def _record(self, before: SongState, after: SongState, action: str, request: str, targets: list[str]) -> SongState:
        """``after`` with its history entry, written to the session folder when it has one."""
        folder = self.supervisor.folder
        if folder is not None and after.session_id in folder.name:
            try:
                song, _ = await trio.to_thread.run_sync(revisions.commit, folder, before, after, action, request, targets)
                return song
            except (SessionError, OSError) as e:  # a full disk: the change is made, kept in memory, written later
                self.supervisor.saver.failed(e)
        entry = HistoryEntry(at=now_iso(), action=action, request=request, targets=targets, files=[])
        return after.model_copy(update={"history": [*after.history, entry]})

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
            if new.clips != old.clips:
                if (change := self.player.put_track(new, "section")) is not None:
                    changes.append(change)
            if new.muted != old.muted:
                changes.append(self.player.mute(part, new.muted))
        self.player.update_song(after)
        return min(changes, key=lambda c: c.tick) if changes else None

    async def refine(self, text: str, dry_run: bool = False) -> dict:
        async with self._lock:
            before = self._song()
            reading = await trio.to_thread.run_sync(read, text, before)
            heard = {"read": reading.labels(), "corrections": [c.line for c in reading.corrections]}
            try:
                changes = reading if reading.understood else await understand(text, before, self.supervisor.settings)
                proposal = await trio.to_thread.run_sync(revisions.revise, before, text, changes)
            except BadRequestError as e:
                raise ProtocolError("bad_args", "; ".join([*heard["corrections"], str(e)])) from None
            except GeneratorError as e:
                raise ProtocolError("failed", str(e)) from None
            if isinstance(proposal, Question):
                return {"question": proposal.text, **heard}
            if dry_run:
                return {"dry_run": True, "targets": proposal.targets, "notes": list(proposal.notes), **heard}
            song = await self._record(before, proposal.song, proposal.action, text, proposal.targets)
            change = self._land(before, song, proposal.structure)
            self.player.update_song(song)
            self.supervisor.bus.log("info", f"refine: {'; '.join(proposal.notes)}")
            return {"targets": proposal.targets, "notes": list(proposal.notes), "at_bar": self._bar(change), **heard}

    async def make_alternatives(self, part: Part, n: int, *, asked: bool = True) -> dict:
        """``n`` alternatives of ``part``, kept in the song; a history entry when a producer ``asked``
        (the background ones made after each song are not a change anyone made)."""
        async with self._lock:
            before = self._song()
            made = await trio.to_thread.run_sync(alternatives.make, before, part, n)
            after = alternatives.with_alternatives(before, part, made)
            if asked:
                after = await self._record(before, after, "alternatives", f"alternatives {part}", [part])
            self.player.update_song(after)
            if not asked:
                await self.supervisor.save()
            return {"alternatives": [{"label": a.label, "approach": a.approach, "score": a.score, "description": a.description} for a in made]}

    async def choose(self, part: Part, label: str) -> dict:
        async with self._lock:
            before = self._song()
            try:
                after = alternatives.choose(before, part, label)
            except BadRequestError as e:
                raise ProtocolError("not_found", str(e)) from None
            song = await self._record(before, after, "choose", f"choose {part} {label}", [part])
            change = self._land(before, song, False)
            return {"part": part, "label": label.upper(), "at_bar": self._bar(change)}

    async def switch(self, part: Part) -> dict:
        """A/B: the next alternative of ``part`` (cycling through those kept, making them if none)."""
        song = self._song()
        kept = song.alternatives.get(part, [])
        if not kept:
            await self.make_alternatives(part, PRE_GENERATED)
            kept = self._song().alternatives[part]
        current = song.track(part).params
        index = next((i for i, a in enumerate(kept) if a.track.params == current), -1)
        return await self.choose(part, kept[(index + 1) % len(kept)].label)

    async def undo(self) -> dict:
        async with self._lock:
            before = self._song()
            folder = self.supervisor.folder
            if folder is None or before.session_id not in folder.name:
                raise ProtocolError("conflict", "the song's session folder is still being written; try again in a moment")
            try:
                revision = await trio.to_thread.run_sync(revisions.undo, folder)
            except BadRequestError as e:
                raise ProtocolError("conflict", str(e)) from None
            change = self._land(before, revision.song, before.arrangement != revision.song.arrangement)
            self.player.update_song(revision.song)
            return {"notes": list(revision.notes), "at_bar": self._bar(change)}

    async def pre_generate(self, session_id: str) -> None:
        """Make alternatives of every part of the new song, quietly, for instant A/B."""
        for part in PARTS:
            song = self.player.song
            if song is None or song.session_id != session_id or song.alternatives.get(part):
                continue
            try:
                await self.make_alternatives(part, PRE_GENERATED, asked=False)
            except (ProtocolError, GeneratorError) as e:
                log.warning("alternatives of %s not made: %s", part, e)

    def _bar(self, change: Change | None) -> int | None:
        tl = self.player.timeline
        if change is None or tl is None:
            return None
        return change.tick // tl.bar_ticks + 1
