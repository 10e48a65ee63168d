"""Stage 4 by the model: one request per (part, section) clip, all started at once (the client's
limits decide how many run), each checked against the algorithmic clip of the same part and section.

- Every request's ``max_tokens`` is sized from the algorithmic clip (``clips.clip_tokens``); a clip
  too long for the token ceiling is asked for a few bars at a time from the start.
- An answer cut at its limit is never pasted into a repair prompt: its finished bars are kept and
  the rest is asked for in fewer bars per request (``config/llm.toml`` ``rounds`` times at most).
- A clip the model wrote replaces the algorithmic one only if it passes the musical floor
  (``clips.floor_problem``): no empty part ships, and the daemon's drafts are only replaced by
  clips that play like music.
- Why clips kept the algorithmic part is said once per run, not once per clip.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import trio

from backbeat.engine.time import PPQ

from backbeat.generators import grid, pipeline
from backbeat.generators.errors import GeneratorError, first_error
from backbeat.generators.model import PARTS, Clip, Part, Source, StageRecord, Track
from backbeat.generators.pipeline import Draft
from backbeat.generators.theory import Scale, scale_of

from . import clips, prompts
from .asking import Asked
from .budget import RunBudget
from .config import llm_tables
from .extract import parse_partial
from .schemas import BarAnswer, ClipAnswer, HexClipAnswer

T = TypeVar("T")


class LLMStages(Protocol):
    """What writing the parts asks of the run it belongs to (``stages.LLMStages`` is the one run;
    named here so this module need not import the module that imports it)."""

    budget: RunBudget
    part_format: str
    on_clip: Callable[[Part, Clip], None] | None
    on_bars: Callable[[Part, int, int, Clip], None] | None

    def say(self, cause: str, message: str) -> None: ...

    async def ask(self, schema: Any, system: str, user: str, seed: int, fix: Callable[[Any], T], *,
                  on_partial: Callable[[Any], None] | None = None, max_tokens: int | None = None) -> Asked[T]: ...

    async def sound_ahead(self, d: Draft) -> None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """One clip's result: the model's clip, or None and why the algorithmic one stays."""

    clip: Clip | None
    source: Source
    attempts: int
    reason: str | None
    work_ms: float
    queued_ms: float


def combined(sources: list[str]) -> Source:
    """One source for many answers: fallback if any fell back, else budget if any ran out of time,
    cache if all were cached, else llm."""
    if not sources or "fallback" in sources:
        return "fallback"
    if "budget" in sources:
        return "budget"
    return "cache" if all(s == "cache" for s in sources) else "llm"


def summary(outcomes: list[Outcome]) -> str:
    """What a progress line says of many clips: how many came from the model, and why the rest not."""
    model = sum(o.clip is not None for o in outcomes)
    if model == len(outcomes):
        return f"{model} of {model} clips from the model"
    why = Counter(o.reason or "no answer" for o in outcomes if o.clip is None)
    reasons = "; ".join(f"{n} × {r}" if n > 1 else r for r, n in why.most_common(3))
    return f"{model} of {len(outcomes)} clips from the model, {len(outcomes) - model} algorithmic ({reasons})"


async def write_parts(stages: LLMStages, d: Draft) -> Draft:
    """The draft with every part's track: the model's clips where they pass, the algorithmic part's
    clips elsewhere (recorded as fallback or budget)."""
    started = time.perf_counter()
    drafted = {p: await trio.to_thread.run_sync(pipeline.make_part, d, p) for p in PARTS}
    grids = {p: list(grid.sections(d.arrangement, d.progression, p)) for p in PARTS}
    outcomes: dict[tuple[Part, int], Outcome] = {}
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stages.sound_ahead, d)
            for part in PARTS:
                by_section = {c.section: c for c in drafted[part].clips}
                for g in grids[part]:
                    nursery.start_soon(_write_one, stages, d, part, g, by_section[g.index], outcomes)
    except ExceptionGroup as group:
        # Model failures never get here (they fall back); what does fails the stage with its
        # own error, so the user reads one line, not "Exceptions from Trio nursery".
        raise first_error(group) from group
    tracks, records = [], []
    for part in PARTS:
        got = [outcomes[(part, g.index)] for g in grids[part]]
        tracks.append(_track(drafted[part], {g.index: o for g, o in zip(grids[part], got)}))
        records.append(_record(f"parts.{part}", got))
    everything = list(outcomes.values())
    # Clips the budget or a run-ending failure kept from the model were said already, in one line.
    if stages.budget.ended is None and any(o.clip is None and o.source == "fallback" for o in everything):
        stages.say("parts", f"parts: {summary(everything)}")
    total = _record("parts", everything)
    total = total.model_copy(update={"duration_ms": round((time.perf_counter() - started) * 1000, 3)})
    return d.model_copy(update={"tracks": tracks, "stages": [*d.stages, *records, total]})


def _record(stage: str, got: list[Outcome]) -> StageRecord:
    return StageRecord(
        stage=stage,
        source=combined([o.source for o in got]) if got else "algorithmic",
        attempts=max(1, sum(o.attempts for o in got)),
        duration_ms=round(sum(o.work_ms for o in got), 3),
        queued_ms=round(sum(o.queued_ms for o in got), 3),
        detail=summary(got) if got else None,
    )


def _track(drafted: Track, got: dict[int, Outcome]) -> Track:
    """The part's track: the model's clips, the algorithmic part's where the model gave none."""
    kept = []
    for c in drafted.clips:
        outcome = got.get(c.section)
        if outcome is None:
            kept.append(c)
        elif outcome.clip is not None:
            kept.append(outcome.clip)
        else:
            kept.append(c.model_copy(update={"source": outcome.source}))
    return drafted.model_copy(update={"clips": kept})


async def _write_one(
    stages: LLMStages, d: Draft, part: Part, g: grid.SectionGrid, draft: Clip, outcomes: dict[tuple[Part, int], Outcome]
) -> None:
    writer = _Clip(stages, d, part, g, draft)
    outcome = await (writer.hex() if stages.part_format == "hex" else writer.json())
    if outcome.clip is not None and stages.on_clip is not None:
        stages.on_clip(part, outcome.clip)
    outcomes[(part, g.index)] = outcome


class _Clip:
    """The requests for one clip, and the checks its answer must pass."""

    def __init__(self, stages: LLMStages, d: Draft, part: Part, g: grid.SectionGrid, draft: Clip) -> None:
        self.stages, self.d, self.part, self.g, self.draft = stages, d, part, g, draft
        self.scale: Scale = scale_of(d.intent.key.root, d.intent.key.mode)
        self.where = f"{part} in {g.section.name}"
        self.attempts = 0
        self.work_ms = self.queued_ms = 0.0

    def _outcome(self, clip: Clip | None, source: Source, reason: str | None = None) -> Outcome:
        return Outcome(clip, source, max(1, self.attempts), reason, round(self.work_ms, 3), round(self.queued_ms, 3))

    def _count(self, asked: Asked) -> None:
        self.attempts += asked.attempts
        self.work_ms += asked.work_ms
        self.queued_ms += asked.queued_ms

    def _checked(self, clip: Clip, source: Source) -> Outcome:
        """The clip if it passes the musical floor against the algorithmic clip, else why not."""
        problem = clips.floor_problem(self.part, clip, self.draft)
        if problem is not None:
            return self._outcome(None, "fallback", f"the model's clip had {problem}")
        return self._outcome(clip.model_copy(update={"source": source}), source)

    async def hex(self) -> Outcome:
        def fix(answer: Any) -> Clip:
            return clips.repaired(self.part, clips.from_hex(answer.midi), self.g, self.scale, source="llm")

        tokens = clips.clip_tokens(self.draft, 1, self.g.section.bars, self.g.ticks_per_bar, hex_mode=True)
        asked = await self.stages.ask(
            HexClipAnswer, prompts.SYSTEM["part_hex"], prompts.part_prompt(self.d, self.part, self.g, "hex"),
            self.d.seed, fix, max_tokens=tokens,
        )
        self._count(asked)
        if asked.value is None:
            return self._outcome(None, asked.source, asked.reason)
        return self._checked(asked.value, asked.source)

    async def json(self) -> Outcome:
        """The clip's bars, asked for in as few requests as the token limits allow."""
        total = self.g.section.bars
        chunk = clips.bars_per_request(self.draft, self.g.ticks_per_bar)
        done: dict[int, BarAnswer] = {}
        sources: list[str] = []
        first, rounds = 1, 0
        while first <= total:
            last = min(total, first + chunk - 1)
            asked = await self._bars(first, last, done)
            self._count(asked)
            if asked.cut is not None and rounds < llm_tables().tokens.clip.rounds:
                rounds += 1
                kept = _leading(clips.renumbered(clips.complete_bars(parse_partial(asked.cut.text)), first, last), first)
                done.update({b.bar: b for b in kept})
                chunk = max(1, len(kept) if kept else (last - first + 1) // 2)
                self.stages.say("truncated", f"the model's answer was cut at {asked.cut.max_tokens} tokens; "
                                             f"asking for {chunk} bar{'s' if chunk > 1 else ''} at a time")
                first += len(kept)
                continue
            if asked.value is None:
                return self._outcome(None, asked.source, asked.reason)
            done.update({b.bar: b for b in asked.value})
            sources.append(asked.source)
            first = last + 1
        try:
            raw = clips.from_bars([done[b] for b in sorted(done)], self.g.ticks_per_bar, PPQ)
            clip = clips.repaired(self.part, raw, self.g, self.scale, source="llm")
        except GeneratorError as e:
            return self._outcome(None, "fallback", f"the answer could not be used: {e}")
        return self._checked(clip, combined(sources) if sources else "llm")

    async def _bars(self, first: int, last: int, done: dict[int, BarAnswer]) -> Asked[list[BarAnswer]]:
        g = self.g
        seen = 0

        def on_partial(value: Any) -> None:
            nonlocal seen
            finished = clips.renumbered(clips.complete_bars(value), first, last)
            if len(finished) < seen:
                seen = 0  # a retry or the repair round began a new answer
            if len(finished) > seen:
                seen = len(finished)
                bars = {**done, **{b.bar: b for b in finished}}
                try:
                    raw = clips.from_bars([bars[b] for b in sorted(bars)], g.ticks_per_bar, PPQ)
                    partial = clips.repaired(self.part, raw, g, self.scale, source="llm")
                except GeneratorError:
                    return
                self.stages.on_bars(self.part, g.index, len(bars), partial)

        whole = (first, last) == (1, g.section.bars)
        return await self.stages.ask(
            ClipAnswer, prompts.SYSTEM["part"],
            prompts.part_prompt(self.d, self.part, g, "json", None if whole else (first, last)), self.d.seed,
            lambda a: clips.renumbered(a.bars, first, last),
            on_partial=on_partial if self.stages.on_bars is not None else None,
            max_tokens=clips.clip_tokens(self.draft, first, last, g.ticks_per_bar),
        )


def _leading(bars: list[BarAnswer], first: int) -> list[BarAnswer]:
    """The unbroken run of bars from ``first`` (a gap means what follows is not trusted)."""
    by_bar = {b.bar: b for b in bars}
    run = []
    while first + len(run) in by_bar:
        run.append(by_bar[first + len(run)])
    return run
