"""The language-model backend of the pipeline's stages: intent, harmony, arrangement, parts, presets
and effects, each asking the model for its answer model (``schemas``) with a prompt rendered from the
song's context (``prompts``), turning the answer into backbeat's values (``repair``, ``clips``), and
falling back to the algorithmic stage when the model fails, stalls or answers nonsense.

``LLMStages(...).backend()`` is a ``pipeline.Backend``; ``backend_for`` opens one from the settings
(or gives None: offline, or no model configured). Every stage records where its result came from
(``StageRecord.source``: llm, cache or fallback) and how many HTTP requests it took. Parts are one
request per (part, section) clip, all started at once: the client's limits decide how many run.
Each JSON clip streams; ``on_bars`` sees its finished bars while the answer is still arriving and
``on_clip`` each finished clip (the daemon lands those on the timeline). Presets and effects depend
only on the plan, so they are asked for alongside the clips and adopted by their stages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio
from pydantic import BaseModel, ValidationError

from backbeat.engine.time import PPQ

from backbeat.generators import grid, pipeline
from backbeat.generators.errors import BadRequestError, GeneratorError, first_error
from backbeat.generators.intent import decompose
from backbeat.generators.model import PARTS, Clip, Part, PartParams, StageRecord, Track
from backbeat.generators.pipeline import Draft
from backbeat.generators.settings import Settings
from backbeat.generators.theory import scale_of

from . import clips, prompts, repair
from .client import LLMClient
from .errors import LLMError
from .schemas import (
    ArrangementAnswer,
    ClipAnswer,
    HarmonyAnswer,
    HexClipAnswer,
    IntentAnswer,
    effect_answer,
    preset_answer,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
OnClip = Callable[[Part, Clip], None]
"""Called with each clip the model wrote (repaired, source llm or cache) as soon as it is whole."""
OnBars = Callable[[Part, int, int, Clip], None]
"""Called with (part, section index, bars finished, the clip so far) while a JSON clip streams.
Provisional: a retry starts the clip again, and the final clip may differ after repair."""


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _line(error: BaseException, limit: int = 200) -> str:
    """An error as one short line for the log (validation errors list their paths on more lines)."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _recorded(draft: Draft, *records: StageRecord) -> Draft:
    return draft.model_copy(update={"stages": [*draft.stages, *records]})


def combined(sources: list[str]) -> str:
    """One source for many answers: fallback if any fell back, cache if all were cached, else llm."""
    if not sources or "fallback" in sources:
        return "fallback"
    return "cache" if all(s == "cache" for s in sources) else "llm"


class LLMStages:
    """The stages, sharing one client (its limits and cache) and the run's options."""

    def __init__(
        self,
        llm: LLMClient,
        settings: Settings,
        *,
        no_cache: bool = False,
        on_clip: OnClip | None = None,
        on_bars: OnBars | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.llm = llm
        self.settings = settings
        self.no_cache = no_cache
        self.part_format = settings.llm_part_format
        self.on_clip = on_clip
        self.on_bars = on_bars
        self.warn = warn or log.warning
        self._ahead: _Ahead | None = None

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

    async def _ask(
        self,
        what: str,
        schema: type[BaseModel],
        system: str,
        user: str,
        seed: int,
        fix: Callable[[Any], T],
        on_partial: Callable[[Any], None] | None = None,
    ) -> tuple[T | None, str, int]:
        """(the repaired value, or None to fall back; its source; HTTP requests it took, at least 1)."""
        try:
            result = await self.llm.structured_result(
                schema, system, user, seed=seed, no_cache=self.no_cache, on_partial=on_partial
            )
        except LLMError as e:
            self.warn(f"{what}: the model gave no usable answer ({_line(e)}); using the algorithmic {what}")
            return None, "fallback", max(1, e.attempts)
        try:
            return fix(result.value), result.source, max(1, result.attempts)
        except (GeneratorError, ValidationError, ValueError, KeyError, IndexError) as e:
            self.warn(f"{what}: the model's answer could not be repaired ({_line(e)}); using the algorithmic {what}")
            return None, "fallback", max(1, result.attempts)

    async def _fallback(self, name: str, draft: Draft, started: float, attempts: int) -> Draft:
        """The algorithmic stage, recorded as the fallback it is."""
        done = await pipeline.algorithmic(name, draft, self.settings.stage_attempts)
        record = done.stages[-1].model_copy(update={"source": "fallback", "attempts": attempts, "duration_ms": _ms(started)})
        return done.model_copy(update={"stages": [*done.stages[:-1], record]})

    def _finish(self, name: str, draft: Draft, started: float, source: str, attempts: int, **update: Any) -> Draft:
        record = StageRecord(stage=name, duration_ms=_ms(started), source=source, attempts=attempts)
        return _recorded(draft.model_copy(update=update), record)

    # --- stages 1-3: the plan ---------------------------------------------------------------------------

    async def intent(self, d: Draft) -> Draft:
        """The model extracts the prompt's entities; the rule-based decomposer validates and enriches them."""
        started = time.perf_counter()
        hints, source, attempts = await self._ask(
            "intent", IntentAnswer, prompts.SYSTEM["intent"], prompts.intent_prompt(d.prompt), d.seed,
            lambda a: repair.intent_hints(a, d.prompt),
        )
        if hints is not None:
            try:
                value = await trio.to_thread.run_sync(lambda: decompose(d.prompt, seed=d.seed, bars=d.bars, hints=hints))
            except BadRequestError as e:  # the prompt itself may be fine: let the rules alone decide
                self.warn(f"intent: the model's reading was refused ({e}); using the algorithmic intent")
            else:
                return self._finish("intent", d, started, source, attempts, intent=value)
        return await self._fallback("intent", d, started, attempts)

    async def harmony(self, d: Draft) -> Draft:
        started = time.perf_counter()
        value, source, attempts = await self._ask(
            "harmony", HarmonyAnswer, prompts.SYSTEM["harmony"], prompts.harmony_prompt(d), d.seed,
            lambda a: repair.progression(a, d.intent),
        )
        if value is None:
            return await self._fallback("harmony", d, started, attempts)
        return self._finish("harmony", d, started, source, attempts, progression=value)

    async def arrangement(self, d: Draft) -> Draft:
        started = time.perf_counter()
        value, source, attempts = await self._ask(
            "arrangement", ArrangementAnswer, prompts.SYSTEM["arrangement"], prompts.arrangement_prompt(d), d.seed,
            lambda a: repair.arrangement(a, d.intent, d.progression),
        )
        if value is None:
            return await self._fallback("arrangement", d, started, attempts)
        return self._finish("arrangement", d, started, source, attempts, arrangement=value)

    # --- stage 4: parts ---------------------------------------------------------------------------------

    async def parts(self, d: Draft) -> Draft:
        """Every (part, section) clip from the model at once, within the client's limits; a clip the
        model could not give is the algorithmic part's clip for that section."""
        started = time.perf_counter()
        answers: dict[tuple[Part, int], tuple[Clip | None, str, int, float]] = {}
        grids = {part: list(grid.sections(d.arrangement, d.progression, part)) for part in PARTS}
        self._ahead = ahead = _Ahead((d.intent, d.progression, d.arrangement))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._sound_ahead, d, ahead)
                for part in PARTS:
                    for g in grids[part]:
                        nursery.start_soon(self._clip, d, part, g, answers, started)
        except ExceptionGroup as group:
            # Model failures never get here (they fall back); what does fails the stage with its
            # own error, so the user reads one line, not "Exceptions from Trio nursery".
            raise first_error(group) from group
        tracks, records = [], []
        for part in PARTS:
            got = {g.index: answers[(part, g.index)] for g in grids[part]}
            tracks.append(await self._part_track(d, part, {i: c for i, (c, *_) in got.items()}))
            source = combined([s for _, s, _, _ in got.values()]) if got else "algorithmic"
            records.append(StageRecord(
                stage=f"parts.{part}", source=source, attempts=max(1, sum(a for _, _, a, _ in got.values())),
                duration_ms=max((ms for *_, ms in got.values()), default=0.0),
            ))
        everything = [source for _, source, _, _ in answers.values()]
        total = StageRecord(stage="parts", duration_ms=_ms(started), source=combined(everything) if everything else "algorithmic",
                            attempts=max(1, sum(a for _, _, a, _ in answers.values())))
        return _recorded(d.model_copy(update={"tracks": tracks}), *records, total)

    async def _part_track(self, d: Draft, part: Part, got: dict[int, Clip | None]) -> Track:
        """The part's track: the model's clips, the algorithmic part's where the model gave none."""
        if all(c is not None for c in got.values()):
            return grid.track(part, list(got.values()), PartParams())
        drafted = await trio.to_thread.run_sync(pipeline.make_part, d, part)
        fallback = {c.section: c.model_copy(update={"source": "fallback"}) for c in drafted.clips}
        if not any(c is not None for c in got.values()):
            return drafted.model_copy(update={"clips": list(fallback.values())})
        return grid.track(part, [c if c is not None else fallback[i] for i, c in got.items()], PartParams())

    async def _clip(
        self, d: Draft, part: Part, g: grid.SectionGrid, answers: dict, started: float
    ) -> None:
        scale = scale_of(d.intent.key.root, d.intent.key.mode)
        hex_mode = self.part_format == "hex"
        schema = HexClipAnswer if hex_mode else ClipAnswer
        where = f"{part} in {g.section.name}"

        def fix(answer: Any) -> Clip:
            raw = clips.from_hex(answer.midi) if hex_mode else clips.from_bars(answer.bars, g.ticks_per_bar, PPQ)
            return clips.repaired(part, raw, g, scale, source="llm")

        seen = 0

        def on_partial(value: Any) -> None:
            nonlocal seen
            done = clips.complete_bars(value)
            if len(done) < seen:
                seen = 0  # a retry or the repair round began a new answer
            if len(done) > seen and self.on_bars is not None:
                seen = len(done)
                try:
                    partial = clips.repaired(part, clips.from_bars(done, g.ticks_per_bar, PPQ), g, scale, source="llm")
                except GeneratorError:
                    return
                self.on_bars(part, g.index, seen, partial)

        clip, source, attempts = await self._ask(
            where, schema, prompts.SYSTEM["part_hex" if hex_mode else "part"],
            prompts.part_prompt(d, part, g, self.part_format), d.seed, fix,
            None if hex_mode or self.on_bars is None else on_partial,
        )
        if clip is not None:
            clip = clip.model_copy(update={"source": source})
            if self.on_clip is not None:
                self.on_clip(part, clip)
        answers[(part, g.index)] = (clip, source, attempts, _ms(started))

    # --- stages 5 and 6: sound --------------------------------------------------------------------------
    # Only the plan and the list of parts decide them, so ``parts`` asks for them ahead (``_Ahead``)
    # while the clips are written; the stages then adopt what came back (or ask now, without it).

    async def _sound_ahead(self, d: Draft, ahead: _Ahead) -> None:
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
        started = time.perf_counter()
        picked, source, attempts = await self._ask(
            stage, schema(), prompts.SYSTEM[stage], prompt(d), d.seed, lambda a: fix(a, d.intent, d.tracks),
        )
        if picked is None:
            return await self._fallback(stage, d, started, attempts)
        tracks, kept = picked
        if kept:
            self.warn(f"{stage}: kept the algorithmic {what} for {', '.join(kept)} (the model's answer did not fit)")
        return self._finish(stage, d, started, "fallback" if len(kept) == len(tracks) else source, attempts, tracks=tracks)


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
    connections are closed when the ``async with`` ends. ``options`` go to ``LLMStages``."""
    if offline or not settings.llm_configured:
        yield None
        return
    async with LLMClient(settings) as llm:
        yield LLMStages(llm, settings, no_cache=no_cache, **options).backend()
