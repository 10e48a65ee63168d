"""Songs the generator tests share: each (prompt, seed, bars) is composed once per test run.

Composing a song takes tens of milliseconds; several test modules look at the same songs from
different sides, so they come from one cache. Songs are frozen pydantic values, so sharing is safe.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import trio

from backbeat.generators import pipeline
from backbeat.generators.model import SongState
from backbeat.generators.theory import Scale, scale_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prompts.txt"

SEED_PROMPTS = ("Trap beat, dark, 140 BPM", "Frank Ocean meets Burial", "Something warm")
NEO_SOUL = "Neo soul, Eb minor, 90 BPM, 4 tracks, 32 bars"
"""The seed's pipeline test prompt (task 6.2)."""


@cache
def song(prompt: str, seed: int, bars: int | None = None) -> SongState:
    return pipeline.compose_sync(prompt, seed=seed, bars=bars)


def session_folder(out: Path, prompt: str, seed: int, bars: int) -> Path:
    """The session folder the pipeline writes into ``out`` for ``prompt``."""
    return trio.run(lambda: pipeline.run(pipeline.new_draft(prompt, seed=seed, bars=bars), out))


def fresh_copy(original: Path, tmp_path: Path) -> Path:
    """A copy of session folder ``original`` in ``tmp_path``, for one test to change."""
    copy = tmp_path / original.name
    shutil.copytree(original, copy)
    return copy


def example_prompts() -> list[str]:
    """The prompts of examples/prompts.txt, one a line, blank lines and # comments skipped."""
    lines = EXAMPLES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def scale(song: SongState) -> Scale:
    return scale_of(song.progression.key.root, song.progression.key.mode)


def absolute_notes(song: SongState, part: str) -> list[tuple[int, int, int, int]]:
    """(song tick, duration, pitch, velocity) of every note of ``part``, sorted."""
    bar = 480 * 4 * song.arrangement.meter.numerator // song.arrangement.meter.denominator
    track = song.track(part)
    return sorted((c.start_bar * bar + n.tick, n.duration, n.pitch, n.velocity) for c in track.clips for n in c.notes)
