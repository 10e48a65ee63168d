"""The LLM pipeline at a real model's pace (issue 5, "done when"), against the simulated model of
``benchmarks.simulated`` (``--real``: against a real model server, ``benchmarks.real_llm``), on the
loopback ``FakeLLMServer``: 1 s to the first token, 40 tokens a
second (4 characters a token), every stage answered validly.

* ``first_note``: from ``generate {play: true}`` to the first note-on at a JACK input connected to
  the daemon's port, with the model configured (the drafts play at once; ``runs`` times, median);
* ``pipeline``: from the same request to the model's last clip placed on the timeline
  (``last_clip_s``) and to the end of the LLM pipeline (``pipeline_s``), at MAX_CONCURRENT_REQUESTS
  4 and 1; the ratio of the two.

Each daemon runs as ``backbeat daemon`` in a subprocess against a private JACK server (dummy driver),
with the fake server in this process. REQUESTS_PER_MINUTE is lifted so that only the in-flight
limit is measured. One run of each: the times are medians where there are several samples.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backbeat.daemon.client import DaemonClient
from backbeat.generators import session

from . import jack
from .daemon import running_daemon
from .fake_llm import FakeLLMServer
from .simulated import SimulatedModel

PROMPT = "Trap beat, dark, 140 BPM"
BARS = 16
FIRST_TOKEN_S = 1.0
TOKENS_PER_S = 40.0


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser("llm", help="time to first note and LLM pipeline time against a simulated model (or --real)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", type=int, default=5, help="first-note runs (at 4 requests in flight)")
    p.add_argument("--real", action="store_true",
                   help="against a real model: llama-cpp-python with SmolLM2-135M on 127.0.0.1 (make realmodel installs it)")
    p.set_defaults(run=_run)


@contextmanager
def llm_daemon(folder: Path, base_url: str, concurrency: int) -> Iterator[Path]:
    """``backbeat daemon`` on JACK with the model at ``base_url``; yields its socket."""
    settings = {
        "LLM_API_KEY": "", "LLM_BASE_URL": base_url, "LLM_MODEL": "simulated", "LLM_CACHE": "false",
        "MAX_CONCURRENT_REQUESTS": str(concurrency), "REQUESTS_PER_MINUTE": "100000",
    }
    with running_daemon(folder, settings) as (_, sock):
        yield sock


def _all_from_model(status: dict[str, Any]) -> bool:
    buffer = status.get("buffer") or {}
    clips = [c for clips in buffer.get("tracks", {}).values() for c in clips]
    return bool(clips) and all(c["source"] in ("llm", "cache") for c in clips)


def _generate(client: DaemonClient, receiver: jack.Receiver, seed: int) -> tuple[float, float | None]:
    client.request("stop")
    time.sleep(0.5)
    seen = len(receiver.stamped())
    t0 = time.perf_counter()
    client.request("generate", prompt=PROMPT, seed=seed, bars=BARS, play=True)
    return t0, receiver.first_note_ms(seen, t0)


def daemon_run(folder: Path, concurrency: int, first_note_runs: int) -> dict[str, Any]:
    """First notes (each a new ``generate``, which cancels the last one's model work), then one
    ``generate`` followed to the end of its LLM pipeline."""
    model = SimulatedModel(first_token_s=FIRST_TOKEN_S, tokens_per_s=TOKENS_PER_S)
    with FakeLLMServer(model=model) as fake, llm_daemon(folder, fake.url, concurrency) as sock:
        receiver = jack.Receiver(f"bench-llm-{os.getpid()}-{concurrency}")
        receiver.connect_from("backbeat:out")
        try:
            with DaemonClient(sock, timeout=30) as client:
                notes = [ms for i in range(first_note_runs - 1) if (ms := _generate(client, receiver, 100 + i)[1]) is not None]
                time.sleep(1.0)  # answers to cancelled requests stop streaming
                fake.max_in_flight, sent = 0, len(fake.requests)
                t0, ms = _generate(client, receiver, 7)
                notes += [ms] if ms is not None else []
                last_clip = None
                while True:
                    status = client.request("status")
                    now = time.perf_counter() - t0
                    if last_clip is None and _all_from_model(status):
                        last_clip = now
                    if not status["pipeline"]["running"]:
                        break
                    if now > 900:
                        raise RuntimeError("the LLM pipeline did not finish within 15 minutes")
                    time.sleep(0.1)
                folder_path = status["session"]["path"]
                client.request("stop")
        finally:
            receiver.close()
        manifest = session.load_manifest(Path(folder_path))
        return {
            "max_concurrent_requests": concurrency,
            "first_note_ms": [round(x, 1) for x in notes],
            "last_clip_s": round(last_clip, 2) if last_clip is not None else None,
            "pipeline_s": round(now, 2),
            "requests": len(fake.requests) - sent,
            "max_in_flight": fake.max_in_flight,
            "stages": {r.stage: {"source": r.source, "attempts": r.attempts, "s": round(r.duration_ms / 1000, 2)}
                       for r in manifest.stage_timings},
        }


def measure(runs: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, jack.server("backbeat-bench-llm"):
        folder = Path(tmp)
        at4 = daemon_run(folder, 4, runs)
        at1 = daemon_run(folder, 1, 1)
    notes = at4["first_note_ms"] + at1["first_note_ms"]
    return {
        "benchmark": "llm",
        "sink": "JACK dummy driver, 64-frame periods",
        "model": {"first_token_s": FIRST_TOKEN_S, "tokens_per_s": TOKENS_PER_S, "chars_per_token": 4,
                  "prompt": PROMPT, "bars": BARS},
        "first_note": {"runs": len(notes), "median_ms": round(statistics.median(notes), 1), "max_ms": max(notes),
                       "target_ms": 1500},
        "pipeline": {"at_4": at4, "at_1": at1, "median_pipeline_s_at_4": at4["pipeline_s"], "pipeline_s_at_1": at1["pipeline_s"],
                     "ratio_4_to_1": round(at4["pipeline_s"] / at1["pipeline_s"], 3), "target_ratio": 0.5,
                     "target_min_pipeline_s": 20},
    }


def report(r: dict[str, Any]) -> str:
    f, p = r["first_note"], r["pipeline"]
    return "\n".join([
        f"time to first note with the model configured ({f['runs']} runs): median {f['median_ms']} ms, max {f['max_ms']} ms "
        f"(target <= {f['target_ms']} ms)",
        f"LLM pipeline at 4 in flight: {p['at_4']['pipeline_s']} s (last clip placed at {p['at_4']['last_clip_s']} s, "
        f"{p['at_4']['requests']} requests; target >= {p['target_min_pipeline_s']} s)",
        f"LLM pipeline at 1 in flight: {p['at_1']['pipeline_s']} s; ratio {p['ratio_4_to_1']} (target <= {p['target_ratio']})",
    ])


def _run(args: argparse.Namespace) -> int:
    if args.real:
        from . import real_llm

        result = real_llm.measure(min(args.runs, 3))
        print(json.dumps(result, indent=2) if args.json else real_llm.report(result))
        return 0
    result = measure(args.runs)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0
