"""How long the algorithmic pipeline takes to compose a song, stage by stage.

Composes a 64-bar, 4-part song ``runs`` times (different seeds, after one warm-up that loads the
tables) and reports the median and spread of the whole pipeline (stages 1-7, in memory), of each
stage, and of writing the session folder's files. Medians, because the machine is shared and noisy.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from backbeat.generators import pipeline, session

PROMPTS = (
    "Frank Ocean meets Burial, late-night vibes",
    "Trap beat, dark, 140 BPM",
    "deep house in A minor",
    "boom bap with jazzy chords",
    "pop song, uplifting",
)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
    }


def measure(runs: int = 15, bars: int = 64) -> dict:
    pipeline.compose_sync(PROMPTS[0], seed=0, bars=bars)  # warm-up: tables are read once per process
    totals, writes = [], []
    stages: dict[str, list[float]] = {}
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            draft = pipeline.new_draft(PROMPTS[i % len(PROMPTS)], seed=i + 1, bars=bars)
            started = time.perf_counter()
            draft = pipeline.compose(draft)
            totals.append((time.perf_counter() - started) * 1000)
            for record in draft.stages:
                stages.setdefault(record.stage, []).append(record.duration_ms)
            song = draft.song()
            notes.append(sum(len(c.notes) for t in song.tracks for c in t.clips))
            folder = Path(tmp) / f"s{i}"
            folder.mkdir()
            started = time.perf_counter()
            session.write(folder, song, draft.stages)
            writes.append((time.perf_counter() - started) * 1000)
    return {
        "benchmark": "pipeline",
        "bars": bars,
        "parts": 4,
        "runs": runs,
        "notes_median": int(statistics.median(notes)),
        "pipeline": _summary(totals),
        "stages": {name: round(statistics.median(v), 2) for name, v in stages.items()},
        "write_session": _summary(writes),
        "target_ms": 300,
    }


def report(result: dict) -> str:
    p, w = result["pipeline"], result["write_session"]
    lines = [
        f"pipeline, {result['bars']}-bar {result['parts']}-part song, {result['runs']} runs (~{result['notes_median']} notes):",
        f"  compose (stages 1-7): median {p['median_ms']} ms, p90 {p['p90_ms']} ms, min {p['min_ms']} ms (target < {result['target_ms']} ms)",
        "  per stage (median): " + ", ".join(f"{k} {v} ms" for k, v in result["stages"].items()),
        f"  writing the session folder: median {w['median_ms']} ms, p90 {w['p90_ms']} ms",
    ]
    return "\n".join(lines)
