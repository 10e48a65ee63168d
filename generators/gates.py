"""Approval gates (seed "User Feedback Loop", 6.1's ask_user): the pipeline pauses after each
creative stage for an answer — keep it, an alternative, an edit in words, or stop.

The answer comes from whoever drives the pipeline (``backbeat generate --ask`` reads it from the
terminal). An alternative re-makes the stage with another seed (or, for the arrangement, the next
template of the genre family); an edit is a refinement request ("key D minor", "3rd chord darker",
"longer intro", "bass simpler") applied to a provisional song and kept for the stage at hand. A
stage that changes throws away what later stages made from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from .arrangement import arrangement, templates_for
from .errors import BadRequestError, GeneratorError
from .harmony import progression
from .intent import decompose
from .parts import generate
from .pipeline import STAGE_NAMES, Draft, compose_async
from .refine import apply
from .requests import Question, parse

GATED = ("intent", "harmony", "arrangement", "parts")
"""Stages after which the pipeline asks."""


class Stop(GeneratorError):
    """The producer stopped the run at a gate (the checkpoint stays, for --resume)."""


@dataclass(frozen=True, slots=True)
class Answer:
    choice: str
    """yes, alternative, edit or quit."""
    text: str = ""


def read_answer(line: str | None) -> Answer:
    """An answer typed at a gate: "y", "", "a", "e key D minor", "q" (end of input means yes)."""
    if line is None:
        return Answer("yes")
    word, _, rest = line.strip().partition(" ")
    choice = {"": "yes", "y": "yes", "yes": "yes", "a": "alternative", "alt": "alternative", "alternative": "alternative",
              "e": "edit", "edit": "edit", "q": "quit", "quit": "quit"}.get(word.lower())
    if choice is None:
        raise BadRequestError(f"answer y, a, e <change> or q (not {word!r})")
    if choice == "edit" and not rest.strip():
        raise BadRequestError("say what to change after e, e.g. \"e key D minor\"")
    return Answer(choice, rest.strip())


Ask = Callable[[str, Draft, str | None], Awaitable[Answer]]
"""(stage, draft so far, what went wrong with the last answer or None) -> the producer's answer."""


def _without_after(draft: Draft, stage: str) -> Draft:
    keep = STAGE_NAMES[: STAGE_NAMES.index(stage) + 1]
    return draft.model_copy(update={"completed": [s for s in draft.completed if s in keep]})


def alternative(stage: str, draft: Draft, round_: int) -> Draft:
    """``stage`` made again another way (round 1, 2, ... give different results)."""
    seed = draft.seed + 7_919 * round_
    if stage == "intent":
        return draft.model_copy(update={"intent": decompose(draft.prompt, seed=seed, bars=draft.bars)})
    if stage == "harmony":
        return draft.model_copy(update={"progression": progression(draft.intent, seed=seed)})
    if stage == "arrangement":
        names = templates_for(draft.intent)
        return draft.model_copy(update={"arrangement": arrangement(draft.intent, draft.progression, template=names[round_ % len(names)])})
    tracks = [generate(draft, t.part, seed=draft.seed, params=t.params.model_copy(update={"seed": t.params.seed + round_}))
              for t in draft.tracks]
    return draft.model_copy(update={"tracks": tracks})


async def edited(stage: str, draft: Draft, text: str) -> Draft:
    """``stage``'s result with the refinement ``text`` applied (to a provisional song)."""
    song = (await compose_async(draft)).song()
    changes = parse(text, song)
    if isinstance(changes, Question):
        raise BadRequestError(changes.text)
    changed = apply(song, changes).song
    update = {
        "intent": {"intent": changed.intent},
        "harmony": {"intent": changed.intent, "progression": changed.progression},
        "arrangement": {"intent": changed.intent, "arrangement": changed.arrangement},
        "parts": {"tracks": [t.model_copy(update={"preset": None, "effects": []}) for t in changed.tracks]},
    }[stage]
    return draft.model_copy(update=update)


def with_gates(ask: Ask) -> Callable[..., Awaitable[Draft]]:
    """A ``pipeline.Composer`` that stops at the gates for ``ask``'s answers (``pipeline.run(compose=...)``)."""
    return partial(compose_with_gates, ask=ask)


async def compose_with_gates(draft: Draft, ask: Ask, **options: object) -> Draft:
    """The pipeline with a gate after each of ``GATED``; ``options`` go to ``compose_async``.

    Raises:
        Stop: the producer answered quit.
    """
    already = set(draft.completed)  # a resumed run asks only about what it makes now
    for stage in GATED:
        draft = await compose_async(draft, until=stage, **options)
        if stage in already:
            continue
        round_, problem = 0, None
        while True:
            answer = await ask(stage, draft, problem)
            problem = None
            if answer.choice == "yes":
                break
            if answer.choice == "quit":
                raise Stop(f"stopped after the {stage} stage")
            try:
                if answer.choice == "alternative":
                    round_ += 1
                    draft = alternative(stage, draft, round_)
                else:
                    draft = await edited(stage, _without_after(draft, stage), answer.text)
            except BadRequestError as e:  # a bad edit: say so and ask again, nothing changed
                problem = str(e)
            draft = _without_after(draft, stage)
    return await compose_async(draft, **options)
