"""Every command of docs/PROTOCOL.md: a table from name to handler, over the daemon's parts.

Handlers validate meaning (a section that exists, a loaded song) and raise ``ProtocolError`` with the
code the client is owed; argument shapes were already validated by ``protocol.parse_request``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from backbeat.engine.ports import list_ports, platform_apis, probe
from backbeat.generators.routing import Answer, Command, Refine, route

from .bus import Bus
from .controls import ControllerMapError, parse_action
from .player import Player
from .protocol import (
    AlternativesArgs, ChooseArgs, GenerateArgs, JumpArgs, LearnArgs, MuteArgs, PartArgs, PendingChange, PipelineStatus,
    PlayArgs, ProtocolError, RefineArgs, Request, SayArgs, SectionInfo, SessionInfo, Status, TempoArgs,
)
from .refiner import Refiner
from .supervisor import Supervisor

if TYPE_CHECKING:
    from .controller import Controller


class Commands:
    def __init__(self, player: Player, supervisor: Supervisor, bus: Bus, shutdown: trio.Event) -> None:
        self.player = player
        self.supervisor = supervisor
        self.refiner = Refiner(player, supervisor)
        supervisor.composed = self.refiner.pre_generate
        self.bus = bus
        self.shutdown_requested = shutdown
        self.controller: Controller | None = None
        """Set by the controller task while controller input runs (learn mode needs it)."""
        self.last_session_error: str | None = None
        """Set at start-up when the last session could not be loaded (``status`` says so)."""
        self.table: dict[str, Callable[[Any], Awaitable[dict[str, Any]]]] = {
            "status": self.status,
            "generate": self.generate,
            "play": self.play,
            "stop": self.stop,
            "tempo": self.tempo,
            "jump": self.jump,
            "regenerate": self.regenerate,
            "mute": self.mute,
            "ports": self.ports,
            "panic": self.panic,
            "learn": self.learn,
            "say": self.say,
            "refine": self.refine,
            "alternatives": self.alternatives,
            "choose": self.choose,
            "ab": self.ab,
            "undo": self.undo,
            "shutdown": self.shutdown,
        }

    async def dispatch(self, request: Request) -> dict[str, Any]:
        handler = self.table.get(request.cmd)
        if handler is None:
            raise ProtocolError("unknown_command", f"unknown command {request.cmd!r}")
        result = await handler(request.args)
        if (unsaved := self.supervisor.saver.error) is not None and request.cmd != "status":
            # The change is made and plays, but is not on disk yet: no reply may hide that.
            result = {**result, "unsaved": unsaved}
        return result

    # --- helpers ---------------------------------------------------------------------------------------

    def _section(self, ref: str | int) -> int:
        """A section by index, exact name, or kind (the next section of that kind)."""
        song = self.player.song
        if song is None:
            raise ProtocolError("conflict", "no song is loaded")
        sections = song.arrangement.sections
        if isinstance(ref, int):
            if ref >= len(sections):
                raise ProtocolError("not_found", f"there is no section {ref + 1}: the song has {len(sections)} (index {ref} is out of 0-{len(sections) - 1})")
            return ref
        wanted = ref.strip().lower()
        for i, s in enumerate(sections):
            if s.name.lower() == wanted:
                return i
        kinds = [i for i, s in enumerate(sections) if s.kind == wanted]
        if kinds:
            current = self.player.transport().section_index or 0
            return next((i for i in kinds if i > current), kinds[0])
        names = ", ".join(s.name for s in sections)
        raise ProtocolError("not_found", f"no section named {ref!r}; the song has: {names}")

    def _bar(self, tick: int) -> int:
        tl = self.player.timeline
        return tick // tl.bar_ticks + 1 if tl else 1

    # --- commands --------------------------------------------------------------------------------------

    async def status(self, _: Any) -> dict[str, Any]:
        engine, ports = self.player.engine_status()
        song = self.player.song
        session = None
        if song is not None:
            starts = song.arrangement.start_bars()
            folder = self.supervisor.folder
            session = SessionInfo(
                path=str(folder) if folder and song.session_id in folder.name else None,
                session_id=song.session_id, prompt=song.intent.prompt, key=song.progression.key.label(), bpm=song.bpm,
                sections=[SectionInfo(name=s.name, bars=s.bars, start_bar=b + 1) for s, b in zip(song.arrangement.sections, starts)],
            )
        pending = [PendingChange(kind=c.kind, at_bar=self._bar(c.tick), detail=c.detail) for c in self.player.pending()]
        return Status(
            transport=self.player.transport(), session=session, engine=engine, ports=ports,
            pipeline=PipelineStatus(running=self.supervisor.running, stage=self.supervisor.stage), pending=pending,
            buffer=self.supervisor.buffer_state(), save_error=self.supervisor.saver.error,
            last_session_error=self.last_session_error,
        ).model_dump(mode="json")

    async def generate(self, args: GenerateArgs) -> dict[str, Any]:
        draft = self.supervisor.generate(args.prompt, seed=args.seed, bars=args.bars, play=args.play)
        return {"session_id": draft.session_id, "seed": draft.seed}

    async def play(self, args: PlayArgs) -> dict[str, Any]:
        if args.session is not None:
            song = await trio.to_thread.run_sync(self.supervisor.load_session, Path(args.session).expanduser())
            if self.player.state == "playing":
                self.player.stop()
            self.player.load(song)
        section = self._section(args.section) if args.section is not None else None
        return self.player.play(section=section, loop=args.loop).model_dump(mode="json")

    async def stop(self, _: Any) -> dict[str, Any]:
        self.player.stop()
        return {}

    async def tempo(self, args: TempoArgs) -> dict[str, Any]:
        at = await self.supervisor.set_tempo(args.bpm)
        self.bus.log("info", f"tempo {args.bpm:g} BPM from bar {self._bar(at)}")
        return {"at_bar": self._bar(at)}

    async def jump(self, args: JumpArgs) -> dict[str, Any]:
        change = self.player.jump(self._section(args.section), args.quantize)
        return {"at_bar": self._bar(change.tick), "section": change.detail}

    async def regenerate(self, args: PartArgs) -> dict[str, Any]:
        change = await self.supervisor.regenerate(args.part)
        version = max(c.version for c in self.player.song.track(args.part).clips)
        return {"at_bar": self._bar(change.tick), "version": version}

    async def mute(self, args: MuteArgs) -> dict[str, Any]:
        change = self.player.mute(args.track, args.on)
        return {"at_bar": self._bar(change.tick)}

    async def ports(self, _: Any) -> dict[str, Any]:
        def scan() -> dict[str, Any]:
            outputs, inputs = [], []
            for api in platform_apis():
                if not probe(api).usable:
                    continue
                outs, ins = list_ports(api)
                outputs += [{"api": api, "name": n} for n in outs]
                inputs += [{"api": api, "name": n} for n in ins]
            return {"outputs": outputs, "inputs": inputs}

        result = await trio.to_thread.run_sync(scan)
        _, open_ports = self.player.engine_status()
        result["open"] = [p.model_dump() for p in open_ports]
        return result

    async def panic(self, _: Any) -> dict[str, Any]:
        self.player.panic()
        return {}

    async def learn(self, args: LearnArgs) -> dict[str, Any]:
        try:
            parse_action(args.action)
        except ControllerMapError as e:
            raise ProtocolError("bad_args", f"learn: {e}") from None
        if self.controller is None:
            raise ProtocolError("unavailable", "no controller input is running (start the daemon with --controller MAP)")
        return await self.controller.learn(args.action)

    async def say(self, args: SayArgs) -> dict[str, Any]:
        """The one input line: a question is answered from the song, a change refines it, anything
        else is a new song (composed and played)."""
        routed = await trio.to_thread.run_sync(route, args.text, self.player.song)
        if isinstance(routed, Answer):
            self.bus.log("info", routed.text)
            return {"kind": "answer", "answer": routed.text, "data": routed.data}
        if isinstance(routed, Command):
            return {"kind": "command", "command": routed.label, **await self._command(routed)}
        if isinstance(routed, Refine):
            return {"kind": "refine", **await self.refiner.refine(args.text)}
        return {"kind": "generate", **await self.generate(GenerateArgs(prompt=routed.prompt, play=True))}

    async def _command(self, cmd: Command) -> dict[str, Any]:
        """A command typed in words ("go to the chorus", "stop", "undo"), run as its own command."""
        if cmd.problem:
            raise ProtocolError("not_found", cmd.problem)
        if cmd.action == "jump":
            target: str | int = cmd.kind or (cmd.section if cmd.section is not None else 0)
            if cmd.next:
                song = self.player.song
                target = min((self.player.transport().section_index or 0) + 1, len(song.arrangement.sections) - 1) if song else 0
            return await self.jump(JumpArgs(section=target))
        if cmd.action in ("undo", "redo"):  # an undo of an undo redoes
            history = self.player.song.history if self.player.song else []
            if cmd.action == "redo" and (not history or history[-1].action != "revert"):
                raise ProtocolError("conflict", "nothing to redo: the last change was not an undo")
            return await self.undo(None)
        if cmd.action == "revert":
            raise ProtocolError("unavailable", "revert to the original is not live yet: undo step by step, or backbeat refine --session DIR --revert 0")
        return await {"stop": self.stop, "play": self.play}[cmd.action](PlayArgs() if cmd.action == "play" else None)

    async def refine(self, args: RefineArgs) -> dict[str, Any]:
        return await self.refiner.refine(args.text, args.dry_run)

    async def alternatives(self, args: AlternativesArgs) -> dict[str, Any]:
        return await self.refiner.make_alternatives(args.part, args.n)

    async def choose(self, args: ChooseArgs) -> dict[str, Any]:
        return await self.refiner.choose(args.part, args.option)

    async def ab(self, args: PartArgs) -> dict[str, Any]:
        return await self.refiner.switch(args.part)

    async def undo(self, _: Any) -> dict[str, Any]:
        return await self.refiner.undo()

    async def shutdown(self, _: Any) -> dict[str, Any]:
        self.shutdown_requested.set()
        return {}
