"""What a controller's actions do: each verb of ``controls.ACTIONS`` as protocol requests.

Every action goes through ``dispatch``, the handler table the socket uses (``protocol.parse_request``
first), so a pad gets exactly the validation and behaviour a socket client gets (``ab`` switches to
the part's next alternative, which the daemon makes in the background after each song). The player
is only read: to phrase the log line, and for the toggles and steps that depend on where the
performance is (mute or unmute, the next section, the tempo once pending changes land).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from backbeat.generators.model import SongState

from .controls import ACTIONS, Action
from .errors import ConflictError, InvalidRequestError
from .player import Player
from .protocol import Payload, Request, parse_request, request

Dispatch = Callable[[Request], Awaitable[Payload]]
FAR = 2**62
"""A tick beyond every change: the state a part or the tempo ends up in once pending changes land."""


class Performer:
    """Performs actions through ``dispatch``; reads ``player`` for what a toggle or a step depends on."""

    def __init__(self, dispatch: Dispatch, player: Player) -> None:
        self.dispatch = dispatch
        self.player = player

    async def perform(self, action: Action) -> str:
        """Do ``action``; the log line's description of what it did.

        Raises:
            RefusedError, ProtocolError: what the daemon refused, as a socket client would be told.
        """
        return await PERFORM[action.verb](self, action)

    async def _request(self, cmd: str, **args: Any) -> Any:
        """A protocol command, validated and handled exactly as a socket client's would be."""
        return await self.dispatch(parse_request(request(0, cmd, args)))

    def _song(self) -> SongState:
        if self.player.song is None:
            raise ConflictError("no song is loaded")
        return self.player.song

    async def _jump(self, action: Action) -> str:
        step = action.group("step")
        if step is not None:
            section, quantize = self._step(1 if step == "next" else -1), "section"
        else:
            number, quantize = int(action.group("section") or 1), action.group("quantize") or "section"
            if number < 1:
                raise InvalidRequestError("sections are numbered from 1")
            section = number - 1
        r = await self._request("jump", section=section, quantize=quantize)
        if self.player.state != "playing":
            return f"start at {r.section} (stopped: play starts there)"
        return f"jump to {r.section} at bar {r.at_bar}"

    def _step(self, by: int) -> int:
        """The section ``by`` away from the pending jump's target, else from the section playing."""
        sections = [s.name for s in self._song().arrangement.sections]
        pending = [c.detail for c in self.player.pending() if c.kind == "jump" and c.detail in sections]
        base = sections.index(pending[-1]) if pending else (self.player.transport().section_index or 0)
        return (base + by) % len(sections)

    async def _mute(self, action: Action) -> str:
        timeline = self.player.timeline
        if timeline is None:
            raise ConflictError("no song is loaded")
        on = not timeline.muted(action.argument, FAR)
        r = await self._request("mute", track=action.argument, on=on)
        return f"{'mute' if on else 'unmute'} {action.argument} from bar {r.at_bar}"

    async def _regenerate(self, action: Action) -> str:
        r = await self._request("regenerate", part=action.argument)
        return f"regenerate {action.argument}: v{r.version} from bar {r.at_bar}"

    async def _ab(self, action: Action) -> str:
        r = await self._request("ab", part=action.argument)
        return f"A/B {action.argument}: alternative {r.label} from bar {r.at_bar}"

    async def _tempo(self, action: Action) -> str:
        self._song()
        current = self.player.tempo.bpm_at(FAR)
        bpm = round(min(300.0, max(20.0, current + float(action.argument))), 2)
        if bpm == current:
            return f"tempo stays {bpm:g} BPM (the limit)"
        r = await self._request("tempo", bpm=bpm)
        return f"tempo {bpm:g} BPM from bar {r.at_bar}"

    async def _play(self, action: Action) -> str:
        r = await self._request("toggle")  # the same toggle as ``backbeat toggle``
        return f"play from {r.section}" if r.state == "playing" else "stop"

    async def _panic(self, action: Action) -> str:
        await self._request("panic")
        return "panic: every note ended, all notes and sound off"


PERFORM: dict[str, Callable[[Performer, Action], Awaitable[str]]] = {
    "jump": Performer._jump,
    "mute": Performer._mute,
    "regenerate": Performer._regenerate,
    "ab": Performer._ab,
    "tempo": Performer._tempo,
    "play": Performer._play,
    "panic": Performer._panic,
}
"""What each verb of ``controls.ACTIONS`` does; returns the log line's description."""
assert PERFORM.keys() == ACTIONS.keys(), "every action in the table has exactly one performer"
