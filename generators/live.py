"""The run a live song plays from: the algorithmic song at once, then the model's version of it.

``compose_live`` runs the pipeline once for a song that is played while it is being written
(DESIGN.md §3, "Speculation"). The algorithmic stages take milliseconds, so its ``LiveListener``
hears the plan, each part and the finished song before the first bar is over. With a language
model (``model``, opened once the algorithmic song is whole) the same run goes on:

1. the model's intent, harmony and arrangement. The listener is offered the model's plan
   (``model_plan``): if it plays differently from the run's own song (tempo, key, chords or
   sections), with fresh algorithmic parts for it; a listener that declines ends the run there;
2. the model writes every clip: the backend reports each the moment it is whole through the
   ``on_clip`` it was made with (``generators.llm.stages``) — pass ``listener.clip``;
3. presets, effects and assembly by the model; the listener hears the model's whole version
   (``model_song``: its instruments and effect chains, every stage's source and timing).

A stalled or failing model never holds anything up that already plays: each stage of the model
falls back to the algorithmic one on its own, and the drafts stay until a better clip arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import trio

from . import sound
from .model import PARTS, Clip, Part, Track
from .pipeline import Backend, Draft, Listener, compose_async, make_part
from .context import Plan


class LiveListener(Listener):
    """A ``Listener`` that also hears the model's pass (every method does nothing by default)."""

    async def model_plan(self, plan: Draft) -> bool:
        """The model's intent, progression and arrangement; ``plan.tracks`` are algorithmic parts
        for it (instruments and effects chosen) when it plays differently from the run's song, else
        empty. False ends the run: the song stays as it is."""
        return True

    def clip(self, part: Part, clip: Clip) -> None:
        """A clip the model wrote (repaired; source ``llm`` or ``cache``); give this method to the
        backend as its ``on_clip``. Called in the run's trio thread."""

    async def model_song(self, done: Draft) -> None:
        """The model's version is whole: ``done.song()``, with its stage records."""


def plays_alike(a: Plan, b: Plan) -> bool:
    """Whether two plans play alike: same tempo, key, chords and sections."""
    return (
        a.intent.tempo.bpm == b.intent.tempo.bpm
        and a.intent.key == b.intent.key
        and a.progression.chords == b.progression.chords
        and a.arrangement == b.arrangement
    )


async def with_parts(plan: Draft) -> Draft:
    """``plan`` with its four algorithmic parts (written at once, in worker threads), instruments
    and effect chains: a whole song for a plan that arrived on its own."""
    tracks: dict[Part, Track] = {}

    async def one(part: Part) -> None:
        tracks[part] = await trio.to_thread.run_sync(make_part, plan, part)

    async with trio.open_nursery() as nursery:
        for part in PARTS:
            nursery.start_soon(one, part)
    chosen = sound.with_effects(plan.intent, sound.with_presets(plan.intent, [tracks[p] for p in PARTS]))
    return plan.model_copy(update={"tracks": chosen})


async def compose_live(
    draft: Draft,
    listener: LiveListener,
    *,
    attempts: int = 3,
    checkpoint: Callable[[Draft], None] | None = None,
    model: Callable[[], AbstractAsyncContextManager[Backend | None]] | None = None,
) -> Draft:
    """The song of ``draft``, every stage reported to ``listener`` as it lands; with a ``model``,
    then the model's version of it (see the module docstring). Returns the last version made.

    ``model`` opens the language model's backend (None: none is configured), and is opened only once
    the algorithmic song is whole: a model client costs a TLS context, 0.2 s measured under load,
    that must not come before the first note.
    """
    song = await compose_async(draft, attempts=attempts, on_progress=listener.progress, checkpoint=checkpoint, listener=listener)
    if model is None:
        return song
    async with model() as backend:
        return song if backend is None else await _model_pass(song, listener, backend, attempts)


async def _model_pass(song: Draft, listener: LiveListener, backend: Backend, attempts: int) -> Draft:
    """Steps 1-3 of the module docstring, after the algorithmic ``song``."""
    fresh = Draft(prompt=song.prompt, seed=song.seed, bars=song.bars, session_id=song.session_id, drum_map=song.drum_map)
    plan = await compose_async(fresh, attempts=attempts, on_progress=listener.progress, backend=backend, until="arrangement")
    offered = plan if plays_alike(plan, song) else await with_parts(plan)
    if not await listener.model_plan(offered):
        return song
    done = await compose_async(plan, attempts=attempts, on_progress=listener.progress, backend=backend)
    await listener.model_song(done)
    return done
