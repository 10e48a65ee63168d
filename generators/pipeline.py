"""The pipeline (seed task 6.2): prompt -> intent -> progression -> arrangement -> parts ->
presets -> effects -> session folder, with progress, retries, checkpoints and resume.

Each stage is a row of ``STAGES``: a pure function from the ``Draft`` so far to the next one, and a
one-line summary for the progress display. ``compose_async`` runs them in memory and reports to a
``Listener`` what each stage makes the moment it lands (the intent, the plan, each part as it is
written, the sound, the finished song), so a caller can play from what arrives while the rest is
written (``generators.live`` is the run the daemon plays from). ``run`` runs them into a session
folder, checkpointing after each stage so that ``--resume`` continues where an interrupted run
stopped. The four parts are generated concurrently.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import trio
from pydantic import ValidationError

from . import parts, session, sound, validation
from .arrangement import arrangement
from . import drum_maps
from .errors import BadRequestError, ConfigError, GeneratorError, SessionError, StageError, first_error
from .harmony import progression
from .intent import check_bars, decompose, explicit_bars, explicit_tempo
from .model import PARTS, Arrangement, Model, Part, PipelineIntent, Progression, SongState, StageRecord, Track


class Draft(Model):
    """The song so far; also the checkpoint written after every stage."""

    prompt: str
    seed: int
    bars: int | None = None
    session_id: str
    completed: list[str] = []
    intent: PipelineIntent | None = None
    progression: Progression | None = None
    arrangement: Arrangement | None = None
    tracks: list[Track] = []
    stages: list[StageRecord] = []
    drum_map: str = "gm"
    """The drum map the session's files are written for (config/drum_maps)."""

    def song(self) -> SongState:
        if self.intent is None or self.progression is None or self.arrangement is None:
            raise StageError("the song is not complete yet")
        return SongState(
            session_id=self.session_id,
            seed=self.seed,
            intent=self.intent,
            progression=self.progression,
            arrangement=self.arrangement,
            tracks=self.tracks,
            drum_map=self.drum_map,
        )


def _seed(draft: Draft, attempt: int) -> int:
    """The seed for an attempt: a retry varies the parameters, as the seed asks (6.2)."""
    return draft.seed if attempt == 1 else draft.seed + 104_729 * (attempt - 1)


def _intent(d: Draft, attempt: int) -> Draft:
    return d.model_copy(update={"intent": decompose(d.prompt, seed=d.seed, bars=d.bars)})


def _harmony(d: Draft, attempt: int) -> Draft:
    return d.model_copy(update={"progression": progression(d.intent, seed=_seed(d, attempt))})


def _arrangement(d: Draft, attempt: int) -> Draft:
    return d.model_copy(update={"arrangement": arrangement(d.intent, d.progression, seed=_seed(d, attempt))})


def make_part(d: Draft, part: Part, attempt: int = 1) -> Track:
    return parts.generate(d, part, seed=_seed(d, attempt))


def _presets(d: Draft, attempt: int) -> Draft:
    return d.model_copy(update={"tracks": sound.with_presets(d.intent, d.tracks)})


def _effects(d: Draft, attempt: int) -> Draft:
    return d.model_copy(update={"tracks": sound.with_effects(d.intent, d.tracks)})


def _assemble(d: Draft, attempt: int) -> Draft:
    found = validation.problems(d.song())
    if found:
        raise StageError(f"{len(found)} problem(s) in the song, first: {found[0]}")
    return d


# --- summaries (the progress lines) ------------------------------------------------------------------


def _sum_intent(d: Draft) -> str:
    i = d.intent
    g = i.genre
    genre = f"{g.primary} {g.blend_weights[0]:.0%} + {g.secondary} {g.blend_weights[1]:.0%}" if g.secondary else g.primary
    half = ", half-time" if i.tempo.half_time else ""
    return f"Decomposed intent: {genre}, {i.tempo.bpm:g} BPM ({i.tempo.confidence}{half}), {i.key.label()} ({i.key.confidence})"


def _sum_harmony(d: Draft) -> str:
    p = d.progression
    return f"Generated {len(p.chords)}-chord progression in {p.key.label()} ({' → '.join(p.symbols())})"


def _sum_arrangement(d: Draft) -> str:
    a = d.arrangement
    flow = " → ".join(f"{s.name} {s.bars}" for s in a.sections)
    return f"Arranged {len(a.sections)} sections, {a.total_bars} bars ({flow})"


def _sum_parts(d: Draft) -> str:
    counts = ", ".join(f"{t.part} {sum(len(c.notes) for c in t.clips)}" for t in d.tracks)
    return f"Wrote {len(d.tracks)} parts (notes: {counts})"


def _sum_presets(d: Draft) -> str:
    return "Chose instruments: " + ", ".join(f"{t.name} → {t.preset.instrument.split(' (')[0]}" for t in d.tracks if t.preset)


def _sum_effects(d: Draft) -> str:
    slots = sum(len(t.effects) for t in d.tracks)
    return f"Built effect chains ({slots} inserts, times at {d.intent.tempo.bpm:g} BPM)"


def _sum_assemble(d: Draft) -> str:
    return "Assembled and validated every part"


class Listener:
    """What a run reports as it goes; every method does nothing unless a subclass says otherwise.

    The run awaits each call (in its own trio thread, one at a time), so a listener that plays what
    arrives sees everything in order: ``plan`` before any ``track`` of that plan, every ``track``
    before ``sound``, ``sound`` before ``song``. A listener must not take long.
    """

    def progress(self, p: Progress) -> None:
        """One progress line (a stage started, finished, is retried or failed)."""

    async def intent(self, draft: Draft) -> None:
        """Stage 1 is done: ``draft.intent``."""

    async def plan(self, draft: Draft) -> None:
        """Stages 2 and 3 are done: ``draft.progression`` and ``draft.arrangement`` (no tracks yet)."""

    async def track(self, draft: Draft, track: Track) -> None:
        """One part of ``draft``'s plan is written (stage 4 reports each as it lands; a retried stage
        reports its parts again)."""

    async def sound(self, draft: Draft) -> None:
        """Stages 5 and 6 are done: the instruments and effect chains of ``draft.tracks``."""

    async def song(self, draft: Draft) -> None:
        """Every stage is done: ``draft.song()`` is whole and valid."""


NOBODY = Listener()
"""The listener of a run nobody listens to."""


async def _parts(draft: Draft, attempt: int, listener: Listener) -> Draft:
    """Stage 4: the four parts at once, each in a worker thread, each reported as it is written."""
    tracks: dict[Part, Track] = {}

    async def one(part: Part) -> None:
        tracks[part] = track = await trio.to_thread.run_sync(make_part, draft, part, attempt)
        await listener.track(draft, track)

    try:
        async with trio.open_nursery() as nursery:
            for part in PARTS:
                nursery.start_soon(one, part)
    except ExceptionGroup as group:
        # One failing part fails the stage with its own error, so that the retry logic and the
        # user's one error line see it.
        raise first_error(group) from group
    return draft.model_copy(update={"tracks": [tracks[p] for p in PARTS]})


StageRun = Callable[[Draft, int, Listener], Awaitable[Draft]]
"""(the draft so far, the attempt from 1, the run's listener) -> the draft with this stage's result."""


def in_thread(fn: Callable[[Draft, int], Draft]) -> StageRun:
    """A stage function run in a worker thread, so a trio caller's loop stays responsive."""

    async def run(draft: Draft, attempt: int, listener: Listener) -> Draft:
        return await trio.to_thread.run_sync(fn, draft, attempt)

    return run


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    doing: str
    run: StageRun
    summary: Callable[[Draft], str]


STAGES: tuple[Stage, ...] = (
    Stage("intent", "Decomposing the prompt", in_thread(_intent), _sum_intent),
    Stage("harmony", "Generating harmony", in_thread(_harmony), _sum_harmony),
    Stage("arrangement", "Designing the arrangement", in_thread(_arrangement), _sum_arrangement),
    Stage("parts", "Writing drums, bass, chords and lead", _parts, _sum_parts),
    Stage("presets", "Choosing MPC Beats instruments", in_thread(_presets), _sum_presets),
    Stage("effects", "Building effect chains", in_thread(_effects), _sum_effects),
    Stage("assembly", "Assembling and validating", in_thread(_assemble), _sum_assemble),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


@dataclass(frozen=True, slots=True)
class Progress:
    """One line of pipeline progress."""

    index: int
    stage: str
    status: Literal["start", "done", "retry", "failed"]
    message: str
    duration_ms: float = 0.0
    attempt: int = 1


ProgressSink = Callable[[Progress], None]


def _ignore(_: Progress) -> None:
    pass


def new_draft(prompt: str, *, seed: int | None = None, bars: int | None = None, drum_map: str = "gm") -> Draft:
    """A draft for ``prompt`` (its files written for ``drum_map``), its input checked before anything runs."""
    if not prompt.strip():
        raise BadRequestError('the prompt is empty: describe the song, e.g. "Frank Ocean meets Burial, late-night vibes"')
    # Numbers stated in the prompt are checked here too, so bad input fails before stage 1 starts
    # (one error line, no progress lines, no folder).
    explicit_tempo(prompt)
    if bars is not None:
        check_bars(bars)
    elif (stated := explicit_bars(prompt)) is not None:
        check_bars(stated)
    seed = secrets.randbelow(2**31) if seed is None else seed
    if not 0 <= seed < 2**63:
        raise BadRequestError(f"seed {seed} is out of range: give 0 to 2^63-1")
    drum_maps.drum_map(drum_map)  # an unknown map is bad input too
    return Draft(prompt=prompt.strip(), seed=seed, bars=bars, session_id=session.new_session_id(), drum_map=drum_map)


async def _attempt(stage: Stage, draft: Draft, attempts: int, on_progress: ProgressSink, index: int,
                   listener: Listener = NOBODY) -> Draft:
    """Run ``stage`` up to ``attempts`` times; bad input and a broken config table are never retried
    (another attempt varies the seed, which mends neither)."""
    for attempt in range(1, attempts + 1):
        started = time.perf_counter()
        try:
            result = await stage.run(draft, attempt, listener)
        except (BadRequestError, ConfigError):
            raise
        except (GeneratorError, ValidationError, ValueError, KeyError, IndexError) as e:
            if attempt == attempts:
                on_progress(Progress(index, stage.name, "failed", f"{stage.doing} failed: {e}", attempt=attempt))
                raise StageError(f"stage {index} ({stage.name}) failed after {attempts} attempts: {e}") from e
            on_progress(Progress(index, stage.name, "retry", f"{stage.doing} failed ({e}); retrying", attempt=attempt))
            continue
        ms = (time.perf_counter() - started) * 1000
        record = StageRecord(stage=stage.name, duration_ms=round(ms, 3), attempts=attempt)
        return result.model_copy(update={"completed": [*result.completed, stage.name], "stages": [*result.stages, record]})
    raise AssertionError("unreachable")


Backend = Mapping[str, Callable[[Draft], Awaitable[Draft]]]
"""Another backend's stages by name (the language model's: ``generators.llm.stages``). Each runs
once, handles its own fallback (``algorithmic``), and returns the draft with its ``StageRecord``(s)
appended; a stage it does not name runs algorithmically."""

_SOURCE_NOTE = {"llm": " [model]", "cache": " [model, cached]", "fallback": " [algorithmic fallback]",
                "budget": " [algorithmic: time budget spent]"}


async def algorithmic(name: str, draft: Draft, attempts: int = 3) -> Draft:
    """Stage ``name`` by the algorithmic backend (with its retries), recorded like any other."""
    index = STAGE_NAMES.index(name) + 1
    return await _attempt(STAGES[index - 1], draft, attempts, _ignore, index)


async def compose_async(
    draft: Draft,
    *,
    attempts: int = 3,
    on_progress: ProgressSink | None = None,
    checkpoint: Callable[[Draft], None] | None = None,
    until: str | None = None,
    backend: Backend | None = None,
    listener: Listener = NOBODY,
) -> Draft:
    """Every stage ``draft`` has not completed, in order, up to and including ``until`` (all by
    default), each by ``backend`` where it has the stage; ``checkpoint`` is called after each, and
    ``listener`` hears what each stage made as it lands (a backend's parts stage reports its parts
    its own way: ``generators.llm.stages`` calls back with each clip). Progress lines go to
    ``on_progress``, by default to the listener."""
    on_progress = on_progress or listener.progress
    for index, stage in enumerate(STAGES, start=1):
        if stage.name in draft.completed:
            continue
        if until is not None and STAGE_NAMES.index(stage.name) > STAGE_NAMES.index(until):
            break
        on_progress(Progress(index, stage.name, "start", f"{stage.doing}..."))
        other = backend.get(stage.name) if backend is not None else None
        if other is None:
            draft = await _attempt(stage, draft, attempts, on_progress, index, listener)
        else:
            draft = await other(draft)
            if stage.name not in draft.completed:
                draft = draft.model_copy(update={"completed": [*draft.completed, stage.name]})
        if checkpoint is not None:
            checkpoint(draft)
        record = draft.stages[-1]
        message = stage.summary(draft) + (f" [{record.detail}]" if record.detail else _SOURCE_NOTE.get(record.source, ""))
        on_progress(Progress(index, stage.name, "done", message, record.duration_ms, record.attempts))
        if (landed := LANDED.get(stage.name)) is not None:
            await getattr(listener, landed)(draft)
    return draft


LANDED = {"intent": "intent", "arrangement": "plan", "effects": "sound", "assembly": "song"}
"""The ``Listener`` method that hears of a stage once it is done (stage 4 reports each track itself)."""


Composer = Callable[..., Awaitable[Draft]]
"""``compose_async`` or a wrapper of it with the same keyword options."""


def compose(draft: Draft, *, attempts: int = 3, on_progress: ProgressSink = _ignore) -> Draft:
    """Every remaining stage of ``draft``, in memory (runs its own trio loop)."""
    return trio.run(partial(compose_async, draft, attempts=attempts, on_progress=on_progress))


def compose_sync(prompt: str, *, seed: int, bars: int | None = None) -> SongState:
    """A whole song in memory, no files (benchmarks, load generation, tests)."""
    return compose(new_draft(prompt, seed=seed, bars=bars)).song()


async def run(
    draft: Draft,
    output_dir: Path,
    *,
    attempts: int = 3,
    on_progress: ProgressSink = _ignore,
    folder: Path | None = None,
    backend: Backend | None = None,
    compose: Composer | None = None,
) -> Path:
    """Run the remaining stages into a session folder under ``output_dir``; returns its path.

    The work happens in a hidden partial folder with a checkpoint after every stage; ``folder``
    names an existing partial folder to resume in. ``compose`` runs the stages (``compose_async``
    by default; ``gates.with_gates(ask)`` pauses at the approval gates for the producer's answer).
    """
    fresh = folder is None
    folder = folder or session.begin(Path(output_dir), draft.session_id)

    def checkpoint(d: Draft) -> None:
        session.write_checkpoint(folder, d.model_dump_json().encode())

    try:
        checkpoint(draft)
        draft = await (compose or compose_async)(draft, attempts=attempts, on_progress=on_progress, checkpoint=checkpoint, backend=backend)
    except (BadRequestError, ConfigError):
        if fresh:  # bad input or a broken table leaves nothing behind; anything else stays resumable
            shutil.rmtree(folder, ignore_errors=True)
        raise
    session.write(folder, draft.song(), draft.stages)
    return session.finish(folder)


def load_draft(folder: Path) -> Draft:
    """The checkpoint of an unfinished session folder.

    Raises:
        BadRequestError: ``folder`` is not an unfinished session.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadRequestError(f"{folder} is not a folder")
    try:
        return Draft.model_validate_json(session.read_checkpoint(folder))
    except ValidationError as e:
        raise BadRequestError(f"{folder}/checkpoint.json is not a valid checkpoint: {e.errors()[0]['msg']}") from e
    except SessionError:
        raise
