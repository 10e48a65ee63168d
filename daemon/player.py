"""The player: owns the engine process and the timeline, and feeds the engine a commit horizon ahead.

Every ``period`` (and at once after any change) the feed loop asks the timeline for the events
between the last commit and the playhead plus the horizon, and hands them to the engine. The
playhead comes from the engine's own anchor (its telemetry) and the tempo map the player keeps in
step with the engine's (or, following an external MIDI clock, the clock's tempo). The engine process
is supervised: if it dies, a new one is started (it panics at start-up, so nothing hangs) and
playback resumes at the next bar.

The transport is the player's: ``playing`` or ``stopped``; ``ended`` says a stop was the song
reaching its end (played with ``loop`` off; every note ended) rather than a ``stop``. The looping
rule (docs/PROTOCOL.md): every playback loops unless the command that started it said ``loop:
false``; a new song always starts looping. With ``--follow-clock`` the external clock starts and
stops the engine itself and the player follows what the engine reports.

All of the player's methods are synchronous and called from the daemon's trio thread, so every
change to the timeline happens in one place, one at a time. Two seams make it testable on a fake
clock: ``clock`` (the engine's clock, ``time.perf_counter``; ``trio.current_time`` under trio's
``MockClock``) and ``engine_factory`` (``EngineClient``; a fake that drives the pure scheduler).
The daemon and ``backbeat play SESSION_DIR`` (``daemon.solo``) both play through it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

import trio

from backbeat.engine.client import EngineClient
from backbeat.engine.commands import EngineConfig, ReplaceFrom, Schedule, Telemetry
from backbeat.engine.errors import EngineDiedError, EngineError
from backbeat.engine.time import PPQ, TempoMap

from backbeat.generators.model import PARTS, Clip, SongState, Track

from .bus import Bus
from .errors import ConflictError, UnavailableError
from .keeper import EngineKeeper
from .protocol import EngineStatus, Lateness, LinkInfo, PortInfo, SwapEvent, Transport
from .timeline import Change, Quantize, Timeline, section_clips_of

log = logging.getLogger(__name__)


class Player:
    """The live performance of one song at a time."""

    def __init__(
        self,
        config: EngineConfig,
        bus: Bus,
        *,
        horizon_s: float = 0.2,
        period_s: float = 0.02,
        engine_factory: Callable[[EngineConfig], EngineClient] = EngineClient,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.config = config
        self.bus = bus
        self.horizon_s = horizon_s
        self.period_s = period_s
        self.keeper = EngineKeeper(config, bus, engine_factory)
        self.clock = clock
        """The engine's clock: telemetry anchors are times on it."""
        self.engine: EngineClient | None = None
        self.timeline: Timeline | None = None
        self._next: Timeline | None = None
        self._next_section = 0
        """The section ``_next`` starts at."""
        self.song: SongState | None = None
        self.state: Literal["playing", "stopped"] = "stopped"
        self.ended = False
        """The last stop was the song reaching its end (not a ``stop``)."""
        self.loop = True
        self.start_section = 0
        self.resume_section: int | None = None
        """Where ``start`` resumes: the section that was playing at the last ``stop`` (None: the top)."""
        self.tempo = TempoMap()
        self._started_at = 0.0
        self._stopped_at = 0.0
        self._start_tick = 0
        self._last_bar = -1
        self._landed: set[Change] = set()
        self._changes: list[Change] = []
        """Changes the player itself places (a new song, a tempo change); the timeline keeps the rest."""
        self._wake = trio.Event()
        self.closing = False
        """Set when the daemon shuts down: an engine that exits then is not restarted."""
        self.on_song: Callable[[], None] = lambda: None
        """Called when the song the player performs is replaced by the one placed at a boundary."""

    # --- lifecycle ----------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the engine, then feed and supervise it until cancelled. Ready after the first
        attempt even if it failed: the daemon answers while the keeper tries again."""
        self.engine = await self.keeper.attempt()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._telemetry_loop)
                nursery.start_soon(self._feed_loop)
                task_status.started()
        finally:
            with trio.CancelScope(shield=True):
                engine, self.engine = self.engine, None
                if engine is not None:
                    await trio.to_thread.run_sync(engine.shutdown)

    async def _telemetry_loop(self) -> None:
        while True:
            engine = self.engine
            if engine is None:  # the first start failed
                await self._restart(None)
                continue
            try:
                await trio.lowlevel.wait_readable(engine)
                engine.recv_telemetry()
                self.keeper.remember(engine.telemetry)
                self._follow(engine.telemetry)
                for notice in engine.take_notices():
                    self.bus.log(notice.level if notice.level in ("info", "warning", "error") else "info", notice.text)
            except (EngineDiedError, EngineError, OSError) as e:
                if self.closing:
                    await trio.sleep_forever()
                await self._restart(str(e))

    async def _restart(self, why: str | None) -> None:
        """Replace the engine (retrying until one starts); playback resumes at the next bar."""
        if why is not None:
            self.bus.log("error", f"the engine process stopped ({why}); restarting it")
        old, self.engine = self.engine, None
        if old is not None:
            await trio.to_thread.run_sync(old.kill)
        engine = await self.keeper.start()  # it panics at start-up, once its listeners are connected
        self.engine = engine
        was_playing = self.state == "playing"
        resume = self._resume_tick() if was_playing else 0  # where the song is now, however long that took
        if was_playing and self.timeline is not None:
            self.engine.set_tempo_map(self.tempo)
            self.timeline.reset(resume)
            self._start(resume)
            self.bus.log("info", f"playback resumed at bar {resume // self.timeline.bar_ticks + 1}")

    def _follow(self, t: Telemetry | None) -> None:
        """The engine's transport moved by itself — an external MIDI clock (``--follow-clock``), or a
        Link peer with start/stop sync (from the top) — so the player follows it."""
        if t is None or self.timeline is None or not (t.clock == "follow" or (t.link is not None and t.link.start_stop)):
            return
        if t.time <= max(self._started_at, self._stopped_at):
            return  # telemetry from before our own last start or stop
        if t.state == "playing" and self.state != "playing":
            self._fresh_timeline(None)
            self._start(0 if t.link is not None else int(t.tick), engine_starts=False)
        elif t.state == "stopped" and self.state == "playing":
            self._halt(engine_stops=False)

    def _resume_tick(self) -> int:
        bar = self.timeline.bar_ticks if self.timeline else PPQ * 4
        return -(-int(self.playhead()) // bar) * bar + bar

    # --- time ------------------------------------------------------------------------------------------

    def playhead(self) -> float:
        """The performance tick playing now."""
        if self.state != "playing":
            return float(self._start_tick)
        t = self.engine.telemetry if self.engine else None
        now = self.clock()
        if t is not None and t.state == "playing" and (t.link is not None or t.clock == "follow"):
            # the tempo and phase are the external clock's (a Link session, a followed MIDI clock)
            return max(float(self._start_tick), t.anchor_tick + (now - t.anchor_time) * t.bpm * PPQ / 60.0)
        if t is not None and t.state == "playing" and t.anchor_time >= self._started_at - 0.5:
            anchor_tick, anchor_time = t.anchor_tick, t.anchor_time
        else:
            anchor_tick, anchor_time = self._start_tick, self._started_at
        return self.tempo.tick_at(self.tempo.seconds_at(anchor_tick) + max(0.0, now - anchor_time))

    def horizon_ticks(self, at: float) -> int:
        return int(self.horizon_s * self.tempo.bpm_at(int(at)) * PPQ / 60.0) + 1

    # --- the feed loop ------------------------------------------------------------------------------

    async def _feed_loop(self) -> None:
        while True:
            if self.state == "playing":
                with trio.move_on_after(self.period_s):
                    await self._wake.wait()
            else:  # stopped: no timer at all, so an idle daemon costs nothing
                await self._wake.wait()
            self._wake = trio.Event()
            if self.state != "playing" or self.timeline is None or self.engine is None:
                continue
            try:
                self.feed()
            except (EngineDiedError, OSError):
                continue  # the telemetry loop restarts the engine

    def wake(self) -> None:
        self._wake.set()

    def feed(self) -> None:
        playhead = self.playhead()
        until = int(playhead) + self.horizon_ticks(playhead)
        if self._next is not None and until > self._next.offset:
            self._send(self.timeline.commit(self._next.offset))
            self.timeline, self._next = self._next, None
            self.song = self.timeline.song
            self.engine.set_tempo(self.timeline.offset, self.song.bpm)
            self.tempo = self.tempo.set_from(self.timeline.offset, self.song.bpm)
            self.on_song()
        self._send(self.timeline.commit(until))
        self._announce(playhead)
        if self._next is None and self.timeline.ended(playhead):
            self._halt(ended=True)

    def _send(self, commands: list[Schedule | ReplaceFrom]) -> None:
        for command in commands:
            if isinstance(command, ReplaceFrom):
                self.engine.replace_from(command.track, command.tick, command.events)
            else:
                self.engine.schedule(command.events)

    def _announce(self, playhead: float) -> None:
        tl = self.timeline
        bar = int(playhead) // tl.bar_ticks
        if bar != self._last_bar:
            self._last_bar = bar
            self.bus.publish("transport", self.transport())
        for change in [*tl.changes, *self._changes]:
            if change.tick <= playhead and change not in self._landed:
                self._landed.add(change)
                self.bus.publish("swap", self._swap(change, landed=True))

    def _swap(self, change: Change, *, landed: bool) -> SwapEvent:
        bar = change.tick // self.timeline.bar_ticks + 1 if self.timeline else 1
        return SwapEvent(kind=change.kind, at_bar=bar, tick=change.tick, detail=change.detail, landed=landed)

    def _placed(self, change: Change) -> Change:
        self.bus.publish("swap", self._swap(change, landed=False))
        self.wake()
        return change

    # --- commands -------------------------------------------------------------------------------------

    def load(self, song: SongState, *, section: int = 0) -> Change | None:
        """Make ``song`` the current song (stopped: it plays on ``play``; playing: it takes over at the
        next section boundary beyond the horizon, and the change placed for that is returned).
        A new song (another ``session_id``) loops, whatever the last one did."""
        if self.song is None or song.session_id != self.song.session_id:
            self.loop, self.resume_section = True, None
        if self.state == "playing" and self.timeline is not None:
            at = self.timeline.next_boundary(self.timeline.committed, "section")
            self._next = Timeline(song, loop=self.loop, start_section=section, offset=at)
            self._next_section = section
            change = self._placed(Change("song", at, song.intent.prompt[:60], ()))
            self._changes.append(change)
            return change
        self.song, self.start_section = song, section
        self.timeline = Timeline(song, loop=self.loop, start_section=section)
        self.tempo = TempoMap.constant(song.bpm)
        return None

    def update_song(self, song: SongState) -> None:
        """The current song changed in ways that do not touch what plays (presets, effects, files)."""
        target = self._next or self.timeline
        if target is not None and target.song.session_id == song.session_id:
            target.song = song
        if self.song is not None and self.song.session_id == song.session_id:
            self.song = song

    def put_track(self, track: Track, quantize: Quantize | None = None) -> Change | None:
        """A new part, or a new version of one, from the next boundary beyond the horizon."""
        target = self._next or self.timeline
        if target is None:
            raise ConflictError("no song is loaded")
        change = target.put_track(track, quantize)
        target.song = with_track(target.song, track)
        if target is self.timeline:
            self.song = target.song
        return self._placed(change) if change else None

    def put_clip(self, part: str, clip: Clip, quantize: Quantize = "section") -> Change:
        """One new clip of a part the song has (a model's clip replacing its draft), from the next
        boundary beyond the horizon: ``put_track`` for a single section."""
        target = self._next or self.timeline
        if target is None:
            raise ConflictError("no song is loaded")
        old = target.song.track(part)  # type: ignore[arg-type]
        change = target.put_clip(section_clips_of(old.model_copy(update={"clips": [clip]}))[0], quantize)
        clips = [clip if c.section == clip.section else c for c in old.clips]
        target.song = with_track(target.song, old.model_copy(update={"clips": clips}))
        if target is self.timeline:
            self.song = target.song
        return self._placed(change)

    def play(self, *, section: int | None = None, loop: bool = True) -> Transport:
        """Play the loaded song from the top (or ``section``, or the section chosen while stopped);
        it loops unless ``loop`` is False — for this playback only. Playing already: a ``section``
        is a jump at the next bar, and ``loop`` holds for the song placed to take over."""
        if self.timeline is None or self.song is None:
            raise ConflictError("nothing to play: generate a song or play a session folder first")
        if self.engine is None:
            raise UnavailableError(self._no_engine())
        self.loop = loop
        if self.state == "playing":
            if self._next is not None:
                self._next.loop = loop
            elif loop:  # looping can always be turned on; turning it off waits for the next playback
                self.timeline.loop = True
            if section is not None:
                self.jump(section, "bar")
            return self.transport()
        self._fresh_timeline(section)
        self.engine.set_tempo_map(self.tempo)
        self._start(0)
        return self.transport()

    def start(self) -> Transport:
        """Resume: play from the start of the section that was playing at the last ``stop`` (from
        the top after the song ended, or the section chosen while stopped); playing already, nothing."""
        if self.state == "playing":
            return self.transport()
        return self.play(section=self.resume_section, loop=self.loop if not self.ended else True)

    def toggle(self) -> Transport:
        """``stop`` while playing, else ``start``."""
        if self.state == "playing":
            self.stop()
            return self.transport()
        return self.start()

    def _fresh_timeline(self, section: int | None) -> None:
        """Play the song from the start (of ``section``, else of the section chosen while stopped)."""
        self.timeline = Timeline(self.song, loop=self.loop, start_section=self.start_section if section is None else section)
        self.tempo = TempoMap.constant(self.song.bpm)  # a live tempo change is part of the song by now

    def pending(self) -> list[Change]:
        tl = self.timeline
        if tl is None or self.state != "playing":
            return []
        playhead = self.playhead()
        return [c for c in [*tl.changes, *self._changes] if c.tick > playhead]

    def _start(self, tick: int, *, engine_starts: bool = True) -> None:
        self._start_tick = tick
        self.timeline.reset(tick)
        self._send(self.timeline.commit(tick + self.horizon_ticks(tick)))
        if engine_starts:
            self.engine.start(tick)
        self._started_at = self.clock()
        self.state = "playing"
        self._last_bar = tick // self.timeline.bar_ticks
        self._changes = []
        self.ended = False
        self.bus.publish("transport", self.transport())
        self.wake()

    def stop(self) -> None:
        self._halt()

    def _halt(self, *, ended: bool = False, engine_stops: bool = True) -> None:
        """Stop the engine (every sounding note ended; unless it stopped itself) and say why:
        a stop, or the song reached its end (``ended``). A song placed to take over is the loaded
        song from now on: it is what ``play`` plays, and what ``status`` shows."""
        if self.engine is not None and engine_stops:
            try:
                self.engine.stop()
            except EngineDiedError:
                pass  # a dead engine plays nothing; its replacement panics at start-up
        if self.state == "playing" and self.timeline is not None and not ended:
            self.resume_section = self.timeline.position(int(self.playhead())).section
        if ended:
            self.resume_section = None
        if self._next is not None:  # stopped before the new song took over: it is the song now
            self.song, self.start_section, self.resume_section = self._next.song, self._next_section, None
            self.timeline = Timeline(self.song, loop=self.loop, start_section=self.start_section)
            self.tempo = TempoMap.constant(self.song.bpm)
            self.on_song()
        self.state, self.ended = "stopped", ended
        self._next = None
        self._start_tick = 0
        self._stopped_at = self.clock()
        self.bus.publish("transport", self.transport())

    def jump(self, section: int, quantize: Quantize) -> Change:
        if self.timeline is None:
            raise ConflictError("no song is loaded")
        if self.state != "playing":
            self.start_section, self.resume_section = section, None
            self.timeline = Timeline(self.song, loop=self.loop, start_section=section)
            return Change("jump", 0, self.song.arrangement.sections[section].name, ())
        return self._placed(self.timeline.jump(section, quantize))

    def mute(self, part: str, on: bool) -> Change:
        if self.timeline is None:
            raise ConflictError("no song is loaded")
        return self._placed(self.timeline.mute(part, on))

    def set_tempo(self, bpm: float) -> int:
        """New tempo from the next bar beyond the horizon (at once when stopped); returns that tick."""
        if self.state != "playing" or self.timeline is None:
            self.tempo = TempoMap.constant(bpm)
            return 0
        at = self.timeline.next_boundary(self.timeline.committed, "bar")
        self.tempo = self.tempo.set_from(at, bpm)
        self.engine.set_tempo(at, bpm)
        self._changes.append(self._placed(Change("tempo", at, f"{bpm:g} BPM", ())))
        return at

    def _no_engine(self) -> str:
        why = f": {self.keeper.error}" if self.keeper.error else ""
        return f"the engine is not running{why}; it is being started again, try again in a moment"

    def panic(self) -> None:
        if self.engine is None:
            raise UnavailableError(self._no_engine())
        try:
            self.engine.panic()
        except EngineDiedError:
            raise UnavailableError("the engine is restarting (its replacement panics as it starts)") from None

    # --- status -----------------------------------------------------------------------------------------

    def transport(self) -> Transport:
        tl = self.timeline
        tick = int(self.playhead())
        if tl is None:
            return Transport(state="stopped", bar=1, beat=1, tick=0, section=None, section_index=None, song_bar=None, bpm=self.tempo.bpm_at(0), loop=self.loop)
        # stopped, the tempo is the loaded song's (a live tempo change is part of it by then)
        bpm = self.tempo.bpm_at(tick) if self.state == "playing" else self.song.bpm
        pos = tl.position(tick) if self.state == "playing" else tl.position(tl.offset)
        section = pos.section if self.state == "playing" else self.start_section
        name = tl.song.arrangement.sections[section].name if section is not None else None
        song_bar = pos.song_bar if self.state == "playing" else tl.section_starts[section]
        return Transport(
            state=self.state, bar=pos.bar + 1, beat=pos.beat + 1, tick=tick, section=name,
            section_index=section, song_bar=None if song_bar is None else song_bar + 1,
            bpm=bpm, loop=self.loop, ended=self.ended,
        )

    def muted(self) -> list[str]:
        """The parts muted in what plays (a mute placed for the next bar counts already)."""
        return (self._next or self.timeline).muted_parts() if self.timeline is not None else []

    def engine_status(self) -> tuple[EngineStatus, list[PortInfo]]:
        t: Telemetry | None = self.engine.telemetry if self.engine else None
        k = self.keeper
        retry = k.retry_in()
        keeping = {"error": k.error, "restarts": k.restarts, "retry_in_s": None if retry is None else round(retry, 2)}
        if t is None:
            return EngineStatus(alive=False, pid=None, lateness_ms=Lateness(p50=0, p99=0, max=0), early=0, events_sent=0,
                                priority="", api="", **keeping), []
        status = EngineStatus(
            alive=self.engine.alive, pid=t.pid, lateness_ms=Lateness(p50=t.p50_ms, p99=t.p99_ms, max=t.max_ms),
            early=t.early_count, events_sent=t.events_sent, priority=t.priority, api=t.api,
            link=None if t.link is None else LinkInfo(
                peers=t.link.peers, bpm=round(t.link.bpm, 3), phase_offset_ms=t.link.phase_offset_ms, start_stop=t.link.start_stop),
            **keeping,
        )
        ports = [PortInfo(name=p.name, up=p.up, role=p.role, connections=list(p.connections), missing=list(p.missing)) for p in t.ports]
        return status, ports


def with_track(song: SongState, track: Track) -> SongState:
    """``song`` with ``track`` in place of its part (or added, in part order)."""
    tracks = [t for t in song.tracks if t.part != track.part] + [track]
    return song.model_copy(update={"tracks": sorted(tracks, key=lambda t: PARTS.index(t.part))})
