"""Every command of docs/PROTOCOL.md: one table from name to handler, and one ``dispatch`` that the
socket server and the controller both go through.

Handlers validate meaning (a section that exists, a loaded song), act through the ``Player``
(playback), the ``LiveSong`` (every change to the song) and the ``Composer`` (new songs), and
return their command's payload model (``protocol``). They raise the daemon's own ``RefusedError``s;
the server maps those to protocol error codes. Argument shapes were already validated by
``protocol.parse_request``. ``learn`` is served by the controller while controller input runs: it
``register``s its handler here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from backbeat.engine.ports import list_ports, platform_apis, probe
from backbeat.generators.drum_maps import map_of_port
from backbeat.generators.llm.client import LLMClient
from backbeat.generators.routing import Answer, Command, Refine, Route, route, route_with
from backbeat.generators.settings import Settings
from backbeat.generators.targets import sections_of_kind

from .bus import Bus
from .composer import Composer
from .controls import ControllerMapError, parse_action
from .errors import ConflictError, InvalidRequestError, NotFoundError, UnavailableError
from .player import Player
from .protocol import (
    AlternativeInfo, AlternativesArgs, AlternativesResult, AnswerResult, AtBar, ChooseArgs, ChooseResult, Done,
    GateArgs, GenerateArgs, GenerateResult, JumpArgs, JumpResult, LearnArgs, MuteArgs, PartArgs, Payload, PendingChange,
    PipelineStatus, PlayArgs, PortInfo, PortName, PortsResult, ProtocolError, QuestionResult, RefineArgs, RefineResult,
    RegenerateResult, Request, SaidCommand, SaidGenerate, SaidQuestion, SaidRefine, SayArgs, Status,
    TempoArgs, Transport, UndoResult,
)
from .song import LiveSong
from .timeline import Change

Handler = Callable[[Any], Awaitable[Payload]]


class Commands:
    """The handler table over the daemon's parts."""

    def __init__(self, player: Player, live: LiveSong, composer: Composer, bus: Bus, settings: Settings,
                 shutdown: trio.Event) -> None:
        self.player = player
        self.live = live
        self.composer = composer
        self.bus = bus
        self.settings = settings
        self.shutdown_requested = shutdown
        self.last_session_error: str | None = None
        """Set at start-up when the last session could not be loaded (``status`` says so)."""
        self.table: dict[str, Handler] = {
            "status": self.status,
            "generate": self.generate,
            "play": self.play,
            "stop": self.stop,
            "start": self.start,
            "toggle": self.toggle,
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
            "gate": self.gate,
            "shutdown": self.shutdown,
        }

    async def dispatch(self, request: Request) -> Payload:
        """The result of ``request``; raises the handler's ``RefusedError`` (or ``ProtocolError``
        for a command this table does not have)."""
        handler = self.table.get(request.cmd)
        if handler is None:
            raise ProtocolError("unknown_command", f"unknown command {request.cmd!r}")
        return await handler(request.args)

    async def reply(self, request: Request) -> dict[str, Any]:
        """``dispatch`` for a socket client: the result as JSON, saying ``unsaved`` (why) while the
        song's folder cannot be written — the change is made and plays, but no reply may hide that."""
        result = (await self.dispatch(request)).model_dump(mode="json")
        if (unsaved := self.live.saver.error) is not None and request.cmd != "status":
            result["unsaved"] = unsaved
        return result

    def register(self, cmd: str, handler: Handler | None) -> None:
        """Serve ``cmd`` with ``handler`` from now on (None: its own handler again)."""
        if cmd not in self.table:
            raise KeyError(cmd)
        self.table[cmd] = handler or getattr(self, cmd)

    # --- helpers ---------------------------------------------------------------------------------------

    def _section(self, ref: str | int) -> int:
        """A section by index, exact name, or kind — a synonym or peer kind standing in for one the
        song lacks (chorus = hook = drop) — meaning the next section of that kind. Refusals number
        sections from 1, as a person reads them."""
        song = self.player.song
        if song is None:
            raise ConflictError("no song is loaded")
        sections = song.arrangement.sections
        names = ", ".join(f"{i} {s.name}" for i, s in enumerate(sections, start=1))
        if isinstance(ref, int):
            if not 0 <= ref < len(sections):
                raise NotFoundError(f"there is no section {ref + 1}: the song has {len(sections)} (1-{len(sections)}: {names})")
            return ref
        wanted = " ".join(ref.lower().split())
        for i, s in enumerate(sections):
            if s.name.lower() == wanted:
                return i
        kinds = sections_of_kind(song, wanted)
        if kinds:
            current = self.player.transport().section_index or 0
            return next((i for i in kinds if i > current), kinds[0])
        raise NotFoundError(f"no section named {ref!r}; the song has: {names}")

    def _bar(self, tick: int) -> int:
        tl = self.player.timeline
        return tick // tl.bar_ticks + 1 if tl else 1

    def _at(self, change: Change | None) -> int | None:
        return None if change is None or self.player.timeline is None else self._bar(change.tick)

    def _with_drum_map(self, port: PortInfo) -> PortInfo:
        if "notes" not in port.role:
            return port
        name = map_of_port(port.name, self.settings.drum_map, self.settings.playback.drum_maps)
        return port.model_copy(update={"drum_map": name})

    # --- commands --------------------------------------------------------------------------------------

    async def status(self, _: Any) -> Status:
        engine, ports = self.player.engine_status()
        ports = [self._with_drum_map(p) for p in ports]
        pending = [PendingChange(kind=c.kind, at_bar=self._bar(c.tick), detail=c.detail) for c in self.player.pending()]
        return Status(
            transport=self.player.transport(), session=self.live.session_info(), engine=engine, ports=ports,
            pipeline=PipelineStatus(running=self.composer.running, stage=self.composer.stage), pending=pending,
            buffer=self.live.buffer_state(), save_error=self.live.saver.error, last_session_error=self.last_session_error,
            gate=self.composer.gate.waiting,
        )

    async def generate(self, args: GenerateArgs) -> GenerateResult:
        draft = self.composer.generate(args.prompt, seed=args.seed, bars=args.bars, play=args.play, gated=args.gates, loop=args.loop)
        return GenerateResult(session_id=draft.session_id, seed=draft.seed)

    async def play(self, args: PlayArgs) -> Transport:
        if args.session is not None:
            if self.player.state == "playing":
                self.player.stop()
            await self.live.load(Path(args.session).expanduser())
        section = self._section(args.section) if args.section is not None else None
        return self.player.play(section=section, loop=args.loop)

    async def stop(self, _: Any) -> Done:
        self.player.stop()
        return Done()

    async def start(self, _: Any) -> Transport:
        return self.player.start()

    async def toggle(self, _: Any) -> Transport:
        return self.player.toggle()

    async def tempo(self, args: TempoArgs) -> AtBar:
        # no log line of its own: the ``swap`` event announces it (and a controller's nudge logs one)
        return AtBar(at_bar=self._bar(await self.live.set_tempo(args.bpm)))

    async def jump(self, args: JumpArgs) -> JumpResult:
        change = self.player.jump(self._section(args.section), args.quantize)
        return JumpResult(at_bar=self._bar(change.tick), section=change.detail)

    async def regenerate(self, args: PartArgs) -> RegenerateResult:
        change, version = await self.live.regenerate(args.part)
        return RegenerateResult(at_bar=self._at(change), version=version)

    async def mute(self, args: MuteArgs) -> AtBar:
        change = await self.live.mute(args.track, args.on)
        self.live.publish_buffer()  # every client's mute indicator
        return AtBar(at_bar=self._bar(change.tick))

    async def ports(self, _: Any) -> PortsResult:
        def scan() -> tuple[list[PortName], list[PortName]]:
            outputs, inputs = [], []
            for api in platform_apis():
                if not probe(api).usable:
                    continue
                outs, ins = list_ports(api)
                outputs += [PortName(api=api, name=n) for n in outs]
                inputs += [PortName(api=api, name=n) for n in ins]
            return outputs, inputs

        outputs, inputs = await trio.to_thread.run_sync(scan)
        _, open_ports = self.player.engine_status()
        return PortsResult(outputs=outputs, inputs=inputs, open=open_ports)

    async def panic(self, _: Any) -> Done:
        self.player.panic()
        return Done()

    async def learn(self, args: LearnArgs) -> Payload:
        """Without controller input: the action is checked, then refused (the controller registers its own)."""
        try:
            parse_action(args.action)
        except ControllerMapError as e:
            raise InvalidRequestError(f"learn: {e}") from None
        raise UnavailableError("no controller input is running (start the daemon with --controller MAP)")

    async def _route(self, text: str) -> Route:
        song = self.live.song
        if song is not None and self.settings.llm_configured:
            async with LLMClient(self.settings) as llm:  # the model classifies what the rules do not know
                return await route_with(llm, text, song)
        return await trio.to_thread.run_sync(route, text, song)

    async def say(self, args: SayArgs) -> Payload:
        """The one input line: a question is answered from the song, a command runs, a change
        refines it, a description of a song is a new song (composed and played); anything else is
        asked back about and changes nothing."""
        routed = await self._route(args.text)
        if isinstance(routed, Answer):  # to the one who asked only: not a line in every client's log
            return AnswerResult(answer=routed.text, data=routed.data)
        if isinstance(routed, Command):
            return SaidCommand(command=routed.label, result=await self._command(routed))
        if isinstance(routed, Refine):
            result = await self.refine(RefineArgs(text=args.text))
            if isinstance(result, QuestionResult):
                return SaidQuestion(**result.model_dump())
            return SaidRefine(**result.model_dump())
        made = await self.generate(GenerateArgs(prompt=routed.prompt, play=True))
        return SaidGenerate(**made.model_dump())

    async def _command(self, cmd: Command) -> Payload:
        """A command typed in words ("go to the chorus", "stop", "undo"), run as its own command."""
        if cmd.problem:
            raise NotFoundError(cmd.problem)
        if cmd.action == "jump":
            target: str | int = cmd.kind or (cmd.section if cmd.section is not None else 0)
            if cmd.next:
                song = self.player.song
                target = min((self.player.transport().section_index or 0) + 1, len(song.arrangement.sections) - 1) if song else 0
            return await self.jump(JumpArgs(section=target))
        if cmd.action == "undo":
            return await self.undo(None)
        if cmd.action == "redo":
            notes, change = await self.live.undo(redo=True)
            return UndoResult(notes=notes, at_bar=self._at(change))
        if cmd.action == "revert":
            raise UnavailableError("revert to the original is not live yet: undo step by step, or backbeat refine --session DIR --revert 0")
        return await {"stop": self.stop, "play": self.play}[cmd.action](PlayArgs() if cmd.action == "play" else None)

    async def refine(self, args: RefineArgs) -> RefineResult | QuestionResult:
        r = await self.live.refine(args.text, dry_run=args.dry_run)
        if r.question is not None:
            return QuestionResult(question=r.question, read=r.read, corrections=r.corrections)
        return RefineResult(targets=r.targets, notes=r.notes, at_bar=self._at(r.change), read=r.read,
                            corrections=r.corrections, dry_run=args.dry_run)

    async def alternatives(self, args: AlternativesArgs) -> AlternativesResult:
        made = await self.live.make_alternatives(args.part, args.n)
        return AlternativesResult(alternatives=[
            AlternativeInfo(label=a.label, approach=a.approach, score=a.score, description=a.description) for a in made
        ])

    async def choose(self, args: ChooseArgs) -> ChooseResult:
        change = await self.live.choose(args.part, args.option)
        return ChooseResult(part=args.part, label=args.option.upper(), at_bar=self._at(change))

    async def ab(self, args: PartArgs) -> ChooseResult:
        label, change = await self.live.switch(args.part)
        return ChooseResult(part=args.part, label=label.upper(), at_bar=self._at(change))

    async def undo(self, _: Any) -> UndoResult:
        composing = self.live.song.session_id if self.composer.running and self.live.song else None
        notes, change = await self.live.undo()
        if composing is not None and self.live.current(composing) is None:
            self.composer.cancel()  # the song being composed was undone
        return UndoResult(notes=notes, at_bar=self._at(change))

    async def gate(self, args: GateArgs) -> Done:
        self.composer.gate.answer(args.choice, args.text)
        return Done()

    async def shutdown(self, _: Any) -> Done:
        self.shutdown_requested.set()
        return Done()
