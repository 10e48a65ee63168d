"""The language-model backend of the pipeline's stages: intent, harmony, arrangement, parts, presets
and effects, each asking the model for its answer model (``schemas``) with a prompt rendered from the
song's context (``prompts``), turning the answer into backbeat's values (``repair``, ``clips``), and
falling back to the algorithmic stage when the model fails, stalls, answers nonsense or the run's
time budget is spent.

``LLMStages(...).backend()`` is a ``pipeline.Backend``; ``backend_for`` opens one from the settings
(or gives None: offline, or no model configured). Every stage records where its result came from
(``StageRecord.source``: llm, cache, fallback or budget), how many HTTP requests it took, how long
it worked and waited for a free slot, and in ``detail`` why it fell back. The parts (``parts``) are
one request per (part, section) clip; ``on_bars`` sees a JSON clip's finished bars while its answer
is still arriving and ``on_clip`` each finished clip that passed the musical floor (the daemon lands
those on the timeline). Presets and effects depend only on the plan, so they are asked for alongside
the clips and adopted by their stages.

Every line the run says (a fallback, the budget, an unreachable server, a refused form) goes to
``warn`` once per cause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio
from pydantic import BaseModel

from backbeat.generators import grid, pipeline
from backbeat.generators.errors import BadRequestError
from backbeat.generators.intent import decompose
from backbeat.generators.model import PARTS, Clip, Part, PartParams, StageRecord
from backbeat.generators.pipeline import Draft
from backbeat.generators.settings import Settings

from . import prompts, repair
from .asking import Asked, ask
from .budget import RunBudget
from .client import LLMClient
from .parts import combined, write_parts
from .schemas import ArrangementAnswer, HarmonyAnswer, IntentAnswer, effect_answer, preset_answer

__all__ = ["LLMStages", "OnBars", "OnClip", "backend_for", "combined"]

log = logging.getLogger(__name__)

T = TypeVar("T")
OnClip = Callable[[Part, Clip], None]
"""Called with each clip the model wrote (repaired, passed the floor, source llm or cache) as soon as it is whole."""
OnBars = Callable[[Part, int, int, Clip], None]
"""Called with (part, section index, bars finished, the clip so far) while a JSON clip streams.
Provisional: a retry starts the clip again, and the final clip may differ after repair."""


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _recorded(draft: Draft, *records: StageRecord) -> Draft:
    return draft.model_copy(update={"stages": [*draft.stages, *records]})


def _detail(asked: Asked) -> str | None:
    """What the progress line adds: why a stage fell back, or how long it waited for a slot."""
    if asked.source == "budget":
        return "algorithmic: the model's time budget was spent"
    if asked.value is None:
        return f"algorithmic fallback: {asked.reason}"
    if asked.queued_ms >= 1000:
        return f"{'model, cached' if asked.source == 'cache' else 'model'}; waited {asked.queued_ms / 1000:.1f} s for a free slot"
    return None


class LLMStages:
    """The stages of one run, sharing one client (its limits and cache) and one time budget."""

    def __init__(
        self,
        llm: LLMClient,
        settings: Settings,
        *,
        no_cache: bool = False,
        on_clip: OnClip | None = None,
        on_bars: OnBars | None = None,
        warn: Callable[[str], None] | None = None,
        budget_s: float | None = None,
    ) -> None:
        self.llm = llm
        self.settings = settings
        self.no_cache = no_cache
        self.part_format = settings.llm_part_format
        self.on_clip = on_clip
        self.on_bars = on_bars
        if warn is not None:
            llm.notify = warn  # the client's notices are the run's lines too, and share its once-per-cause
        self.budget = RunBudget(budget_s if budget_s is not None else settings.llm_budget_s, self.say)
        self._ahead: _Ahead | None = None

    def say(self, cause: str, message: str) -> None:
        """``message`` once per ``cause`` for the run."""
        self.llm.say(cause, message)

    def backend(self) -> pipeline.Backend:
        return {
            "intent": self.intent,
            "harmony": self.harmony,
            "arrangement": self.arrangement,
            "parts": self.parts,
            "presets": self.presets,
            "effects": self.effects,
        }

    # --- one request ---------------------------------------------------------------------------------

    async def ask(
        self,
        schema: type[BaseModel],
        system: str,
        user: str,
        seed: int,
        fix: Callable[[Any], T],
        *,
        on_partial: Callable[[Any], None] | None = None,
        max_tokens: int | None = None,
    ) -> Asked[T]:
        """One question within the run's budget (``asking.ask``)."""
        return await ask(self.llm, self.budget, schema, system, user, fix, seed=seed, no_cache=self.no_cache,
                         on_partial=on_partial, max_tokens=max_tokens)

    def _fell_back(self, what: str, asked: Asked) -> None:
        if asked.value is None and asked.source == "fallback" and self.budget.ended is None:
            self.say(f"stage:{what}", f"{what}: the model gave no usable answer ({asked.reason}); using the algorithmic {what}")

    async def _fallback(self, name: str, draft: Draft, asked: Asked) -> Draft:
        """The algorithmic stage, recorded as the fallback (or budget) it is, with its reason."""
        started = time.perf_counter()
        done = await pipeline.algorithmic(name, draft, self.settings.stage_attempts)
        record = done.stages[-1].model_copy(update={
            "source": asked.source, "attempts": asked.attempts, "duration_ms": round(asked.work_ms + _ms(started), 3),
            "queued_ms": asked.queued_ms, "detail": _detail(asked),
        })
        return done.model_copy(update={"stages": [*done.stages[:-1], record]})

    def _finish(self, name: str, draft: Draft, asked: Asked, **update: Any) -> Draft:
        record = StageRecord(stage=name, duration_ms=asked.work_ms, source=asked.source, attempts=asked.attempts,
                             queued_ms=asked.queued_ms, detail=_detail(asked))
        return _recorded(draft.model_copy(update=update), record)

    # --- stages 1-3: the plan ---------------------------------------------------------------------------

    async def intent(self, d: Draft) -> Draft:
        """The model extracts the prompt's entities; the rule-based decomposer validates and enriches them."""
        asked = await self.ask(
            IntentAnswer, prompts.SYSTEM["intent"], prompts.intent_prompt(d.prompt), d.seed,
            lambda a: repair.intent_hints(a, d.prompt),
        )
        if asked.value is not None:
            try:
                value = await trio.to_thread.run_sync(lambda: decompose(d.prompt, seed=d.seed, bars=d.bars, hints=asked.value))
            except BadRequestError as e:  # the prompt itself may be fine: let the rules alone decide
                asked = Asked(None, "fallback", asked.attempts, f"the model's reading was refused ({e})", asked.work_ms)
            else:
                return self._finish("intent", d, asked, intent=value)
        self._fell_back("intent", asked)
        return await self._fallback("intent", d, asked)

    async def harmony(self, d: Draft) -> Draft:
        asked = await self.ask(
            HarmonyAnswer, prompts.SYSTEM["harmony"], prompts.harmony_prompt(d), d.seed,
            lambda a: repair.progression(a, d.intent),
        )
        if asked.value is None:
            self._fell_back("harmony", asked)
            return await self._fallback("harmony", d, asked)
        return self._finish("harmony", d, asked, progression=asked.value)

    async def arrangement(self, d: Draft) -> Draft:
        asked = await self.ask(
            ArrangementAnswer, prompts.SYSTEM["arrangement"], prompts.arrangement_prompt(d), d.seed,
            lambda a: repair.arrangement(a, d.intent, d.progression),
        )
        if asked.value is None:
            self._fell_back("arrangement", asked)
            return await self._fallback("arrangement", d, asked)
        return self._finish("arrangement", d, asked, arrangement=asked.value)

    # --- stage 4: parts ---------------------------------------------------------------------------------

    async def parts(self, d: Draft) -> Draft:
        """Every (part, section) clip from the model at once (``parts``), presets and effects alongside."""
        self._ahead = _Ahead((d.intent, d.progression, d.arrangement))
        return await write_parts(self, d)

    # --- stages 5 and 6: sound --------------------------------------------------------------------------
    # Only the plan and the list of parts decide them, so ``parts`` asks for them ahead (``_Ahead``)
    # while the clips are written; the stages then adopt what came back (or ask now, without it).

    async def sound_ahead(self, d: Draft) -> None:
        ahead = self._ahead
        if ahead is None:
            return
        try:
            skeleton = d.model_copy(update={"tracks": [grid.track(p, [], PartParams()) for p in PARTS], "stages": []})
            ahead.sound = await self._effects(await self._presets(skeleton))
        finally:
            ahead.done.set()

    async def _adopted(self, d: Draft, field: str, record: int) -> Draft | None:
        ahead = self._ahead
        if ahead is None or ahead.plan != (d.intent, d.progression, d.arrangement):
            return None
        await ahead.done.wait()
        if ahead.sound is None:
            return None
        chosen = {t.part: getattr(t, field) for t in ahead.sound.tracks}
        tracks = [t.model_copy(update={field: chosen[t.part]}) for t in d.tracks]
        return _recorded(d.model_copy(update={"tracks": tracks}), ahead.sound.stages[record])

    async def presets(self, d: Draft) -> Draft:
        return await self._adopted(d, "preset", -2) or await self._presets(d)

    async def effects(self, d: Draft) -> Draft:
        return await self._adopted(d, "effects", -1) or await self._effects(d)

    async def _presets(self, d: Draft) -> Draft:
        return await self._sound("presets", d)

    async def _effects(self, d: Draft) -> Draft:
        return await self._sound("effects", d)

    async def _sound(self, stage: str, d: Draft) -> Draft:
        """Stage 5 or 6 by the model: instruments or effect chains picked from the catalog."""
        schema, prompt, fix, what = _SOUND[stage]
        asked = await self.ask(schema(), prompts.SYSTEM[stage], prompt(d), d.seed, lambda a: fix(a, d.intent, d.tracks))
        if asked.value is None:
            self._fell_back(stage, asked)
            return await self._fallback(stage, d, asked)
        tracks, kept = asked.value
        if kept:
            self.say(f"kept:{stage}", f"{stage}: kept the algorithmic {what} for {', '.join(kept)} (the model's answer did not fit)")
        source = "fallback" if len(kept) == len(tracks) else asked.source
        record = self._finish(stage, d, asked, tracks=tracks)
        if kept:  # what the manifest says: which parts kept the algorithmic choice, and why
            why = f"the model's answer did not fit {', '.join(kept)}"
            detail = f"algorithmic fallback: {why}" if source == "fallback" else f"model; algorithmic {what} for {', '.join(kept)}"
            last = record.stages[-1].model_copy(update={"source": source, "detail": detail})
            record = record.model_copy(update={"stages": [*record.stages[:-1], last]})
        return record


_SOUND = {
    "presets": (preset_answer, prompts.presets_prompt, repair.presets, "instrument"),
    "effects": (effect_answer, prompts.effects_prompt, repair.effects, "chain"),
}
"""Stages 5 and 6: what the model is asked for, the prompt, the repair, and what a fallback keeps."""


@dataclass
class _Ahead:
    """Presets and effects asked for while the parts of one plan are written."""

    plan: tuple[Any, Any, Any]
    """(intent, progression, arrangement) they were asked for."""
    done: trio.Event = field(default_factory=trio.Event)
    sound: Draft | None = None
    """The plan's draft with part-less tracks after both stages (their records last); None if it failed."""


@asynccontextmanager
async def backend_for(
    settings: Settings, *, offline: bool = False, no_cache: bool = False, **options: Any
) -> AsyncIterator[pipeline.Backend | None]:
    """The LLM backend for one run (None when ``offline`` or no model is configured); the client's
    connections are closed when the ``async with`` ends. ``options`` go to ``LLMStages``
    (``budget_s`` defaults to ``llm_budget_s``; the daemon passes ``llm_live_budget_s``)."""
    if offline or not settings.llm_configured:
        yield None
        return
    # Made in a worker thread: its HTTP client loads a TLS context (0.2 s measured under load), which
    # would hold up everything else the trio thread runs (the daemon's feed to the engine among them).
    async with await trio.to_thread.run_sync(LLMClient, settings) as llm:
        yield LLMStages(llm, settings, no_cache=no_cache, **options).backend()
