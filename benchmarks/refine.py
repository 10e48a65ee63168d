"""How long a refinement of one part takes with the algorithmic backend (issue 6), and how long
reading a request takes (issue 11).

On a 64-bar, 4-part session folder, alternately "bass too busy" and "bass busier", ``runs`` times:
the whole change as ``backbeat refine`` makes it (read the session, parse, regenerate the bass,
keep the undo snapshot, rewrite exactly the files that changed), and the in-memory part alone.
Reading: every request of ``READINGS`` (typed as producers type them: typos, several changes,
numbers in words) read ``runs`` times in memory by the grammar, after one warm-up round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import trio

from backbeat.generators import pipeline, refine, revisions, session
from backbeat.generators.requests import parse, read

REQUESTS = ("bass too busy", "bass busier")
READINGS = (
    "bass too busy", "change the tempo to ninety-six", "slower, darker, and mute the lead", "make the intro 8 bars",
    "the second chord is too bright", "keep the drums but change the bass", "tempp 96", "longer chrous",
    "no drums in the intro and a longer outro", "I want more reverb on the keys", "a little more swing",
    "remove the second verse and make the last chorus longer", "take out the hats and add more reverb to the keys",
    "transpose up a semitone and slow it down", "give me a different bassline", "what if the tempo was 100",
    "every chorus 16 bars", "the 808 is doing too much", "set the swing to 60%", "hmm the drums r kinda busy",
)
READ_TARGET_MS = 5.0


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser("refine", help="time a one-part refinement of a 64-bar session")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", type=int, default=20)
    p.set_defaults(run=_run)


def measure(runs: int = 20) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = trio.run(lambda: pipeline.run(pipeline.new_draft("pop song, uplifting", seed=5, bars=64), Path(tmp)))
        revisions.refine_folder(folder, REQUESTS[1])  # warm-up: tables, imports
        song = session.load_song(folder)
        for text in READINGS:  # warm-up: the grammar's tables, the English word list
            read(text, song)
        reading = []
        for _ in range(runs):
            for text in READINGS:
                started = time.perf_counter()
                read(text, song)
                reading.append((time.perf_counter() - started) * 1000)
        whole, in_memory = [], []
        for i in range(runs):
            text = REQUESTS[i % 2]
            song = session.load_song(folder)
            started = time.perf_counter()
            refine.apply(song, parse(text, song))
            in_memory.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            revisions.refine_folder(folder, text)
            whole.append((time.perf_counter() - started) * 1000)
    return {
        "benchmark": "refine", "bars": 64, "runs": runs, "request": " / ".join(REQUESTS),
        "refine_folder_median_ms": round(statistics.median(whole), 1), "refine_folder_max_ms": round(max(whole), 1),
        "apply_in_memory_median_ms": round(statistics.median(in_memory), 1), "target_ms": 100,
        "reading_requests": len(READINGS), "reading_median_ms": round(statistics.median(reading), 2),
        "reading_p95_ms": round(statistics.quantiles(reading, n=20)[-1], 2), "reading_target_ms": READ_TARGET_MS,
    }


def _run(args: argparse.Namespace) -> int:
    r = measure(args.runs)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"refine one part of a 64-bar session ({r['runs']} runs): median {r['refine_folder_median_ms']} ms "
              f"(max {r['refine_folder_max_ms']} ms) end to end, {r['apply_in_memory_median_ms']} ms in memory; target < {r['target_ms']} ms")
        print(f"reading a request ({r['reading_requests']} requests x {r['runs']} runs): median {r['reading_median_ms']} ms "
              f"(p95 {r['reading_p95_ms']} ms) in memory; target <= {r['reading_target_ms']:g} ms")
    return 0
