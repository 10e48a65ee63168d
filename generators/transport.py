"""Requests that are commands on the playing song: jumps ("go to the chorus", "jump to bar 33",
"next section"), stop and play, and the history's undo, redo and revert.

A command is read only when it is the whole request, fillers aside ("ok undo", "can you stop"):
"stop the bass" mutes the bass, "go back to the first bassline" chooses an alternative, so a
command word inside a longer request is left to the grammar of ``generators.requests``.
"""

from __future__ import annotations

import re
from functools import cache

from .model import SongState
from .reading import Command
from .tables import tables
from .targets import section_at_bar, sections_in


def _bare(text: str) -> str:
    fillers = set(tables().refine.words.fillers)
    return " ".join(w for w in re.findall(r"[\w#'+]+", text) if w not in fillers)


@cache
def _lists() -> dict[str, frozenset[str]]:
    c = tables().refine.commands
    return {name: frozenset(_bare(p) for p in getattr(c, name)) | frozenset(getattr(c, name))
            for name in ("revert", "redo", "undo", "next", "stop", "play")}


def history_command(clean: str) -> str | None:
    """undo, redo or revert when that is all ``clean`` (a prepared request) asks."""
    lists = _lists()
    for form in (clean, _bare(clean)):
        if found := next((name for name in ("revert", "redo", "undo") if form in lists[name]), None):
            return found
    return None


def command(clean: str, song: SongState, corrections: list | None = None) -> Command | None:
    """The command ``clean`` (a prepared request) amounts to, if it is one."""
    fixes = list(corrections or [])
    bare = _bare(clean)
    lists = _lists()
    for form in (clean, bare):  # the words as typed first: "revert that" is an undo, "revert" alone is not
        for name in ("revert", "redo", "undo", "stop", "play"):
            if form in lists[name]:
                return Command(action=name, label=name, corrections=fixes)
    if clean in lists["next"] or bare in lists["next"]:
        return Command(action="jump", next=True, label="jump next", corrections=fixes)
    jump = sorted(tables().refine.commands.jump, key=len, reverse=True)
    for word in jump:
        m = re.match(rf"^(?:\w+\s+){{0,3}}?{re.escape(word)}\s+(.+)$", clean)
        if m is None:
            continue
        rest = m.group(1)
        if bar := re.fullmatch(r"(?:the\s+)?(?:bar|measure)\s+(\d+)", _bare(rest)):
            index = section_at_bar(song, int(bar.group(1)))
            if index is None:
                return Command(action="jump", label=f"jump bar {bar.group(1)}", problem=f"the song has {song.arrangement.total_bars} bars", corrections=fixes)
            return Command(action="jump", section=index, label=f"jump {song.arrangement.sections[index].name}", corrections=fixes)
        refs = sections_in(rest, song)
        if len(refs) != 1 or _bare(rest[:refs[0].start] + rest[refs[0].end:]):
            continue
        ref = refs[0]
        if ref.problem or not ref.indices:
            return Command(action="jump", label=f"jump {ref.kind}", problem=ref.problem, corrections=fixes)
        index = ref.indices[0]
        name = song.arrangement.sections[index].name
        if ref.specific or ref.kind in ("section", "bars"):
            return Command(action="jump", section=index, label=f"jump {name}", corrections=fixes)
        kind = song.arrangement.sections[index].kind
        return Command(action="jump", kind=kind, section=index, label=f"jump {name}", corrections=fixes)
    return None
