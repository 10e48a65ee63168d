"""``backbeat bench llm --real``: the LLM pipeline against a real model server, llama-cpp-python with
SmolLM2-135M-Instruct on 127.0.0.1 (``benchmarks.llama_server``), as a producer meets it:

* ``server``: generation tokens per second (content deltas per second after the first: this server
  streams one token per chunk) and time to the first content, over a few short requests;
* ``cli``: ``backbeat generate`` in a subprocess with the default time budget (``LLM_BUDGET_S``):
  its wall time, each stage's latency (work and queueing apart), its source, the structured-output
  form negotiated, and how much of the song came from the model;
* ``daemon``: time from ``generate {play: true}`` to the first note-on at a JACK input with this
  model configured (the algorithmic draft plays at once; target <= 0.5 s), N times.

One run of each; the times are medians where there are several samples.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import trio

from backbeat.daemon.client import DaemonClient
from backbeat.generators import session
from backbeat.generators.llm import LLMClient, structured_output_form
from backbeat.generators.settings import Settings

from . import jack, llama_server
from .daemon import running_daemon

PROMPT = "Frank Ocean meets Burial, late-night vibes"
BARS = 8
TARGET_FIRST_NOTE_MS = 500


def _env(url: str, cache: Path) -> dict[str, str]:
    return {"LLM_BASE_URL": url, "LLM_MODEL": llama_server.MODEL, "LLM_API_KEY": "", "LLM_CACHE": "true",
            "LLM_CACHE_PATH": str(cache)}


def _settings(url: str, cache: Path) -> Settings:
    return Settings(_env_file=None, llm_base_url=url, llm_model=llama_server.MODEL, llm_api_key=None,
                    llm_cache=True, llm_cache_path=cache)


async def _server_speed(url: str, cache: Path, requests: int = 3) -> dict[str, Any]:
    rates, firsts = [], []
    async with LLMClient(_settings(url, cache).model_copy(update={"llm_cache": False})) as llm:
        for i in range(requests):
            started = trio.current_time()
            stamps = []
            async with aclosing(llm.stream("You are a music critic.", f"Describe a {i + 2}-bar drum groove in one paragraph.",
                                           max_tokens=96, seed=i)) as deltas:
                async for _ in deltas:
                    stamps.append(trio.current_time())
            if len(stamps) > 1:
                firsts.append(stamps[0] - started)
                rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    return {"requests": requests, "tokens_per_s_median": round(statistics.median(rates), 1),
            "first_content_s_median": round(statistics.median(firsts), 2)}


def _cli(url: str, cache: Path, out: Path) -> dict[str, Any]:
    env = {**os.environ, **_env(url, cache)}
    env = {k: v for k, v in env.items() if v != ""}
    budget = _settings(url, cache).llm_budget_s
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "backbeat", "generate", PROMPT, "--bars", str(BARS), "--seed", "7",
                           "--out", str(out)], env=env, capture_output=True, text=True, timeout=budget + 300)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"backbeat generate failed: {done.stderr.strip().splitlines()[-1:]}")
    folder = Path(done.stdout.strip().splitlines()[-1])
    manifest = session.load_manifest(folder)
    song = session.load_song(folder)
    clips = [c for t in song.tracks for c in t.clips]
    lines = [line for line in done.stderr.splitlines() if not line.startswith(("→", "✓"))]
    return {
        "wall_s": round(wall, 1),
        "budget_s": budget,
        "within_budget": wall <= budget + 15,
        "stages": {r.stage: {"source": r.source, "work_s": round(r.duration_ms / 1000, 2), "queued_s": round(r.queued_ms / 1000, 2),
                             "attempts": r.attempts, **({"detail": r.detail} if r.detail else {})} for r in manifest.stage_timings},
        "clips_from_model": sum(c.source in ("llm", "cache") for c in clips),
        "clips": len(clips),
        "lines": lines,
    }


def _first_notes(url: str, cache: Path, folder: Path, runs: int) -> list[float]:
    notes = []
    with jack.server("backbeat-bench-real"), running_daemon(folder, _env(url, cache)) as (_, sock):
        receiver = jack.Receiver(f"bench-real-{os.getpid()}")
        receiver.connect_from("backbeat:out")
        try:
            with DaemonClient(sock, timeout=30) as client:
                for i in range(runs):
                    client.request("stop")
                    time.sleep(0.5)
                    seen = len(receiver.stamped())
                    t0 = time.perf_counter()
                    client.request("generate", prompt=PROMPT, seed=20 + i, bars=BARS, play=True)
                    if (ms := receiver.first_note_ms(seen, t0)) is not None:
                        notes.append(round(ms, 1))
                client.request("stop")
        finally:
            receiver.close()
    return notes


def measure(runs: int = 3) -> dict[str, Any]:
    reason = llama_server.missing()
    if reason is not None:
        raise RuntimeError(reason)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cache = folder / "llm.sqlite3"
        with llama_server.llama_server(log=folder / "server.log") as url:
            speed = trio.run(_server_speed, url, cache)
            cli = _cli(url, cache, folder / "out")
            form = trio.run(lambda: structured_output_form(_settings(url, cache), ask=False))
            notes = _first_notes(url, cache, folder, runs) if jack.JACKD is not None else []
    return {
        "benchmark": "llm --real",
        "server": {"name": "llama-cpp-python", "model": "SmolLM2-135M-Instruct Q4_1", **speed},
        "form": {"server": form.server, "form": form.form, "line": form.line()},
        "cli": cli,
        "daemon_first_note": {"runs": len(notes), "ms": notes, "median_ms": statistics.median(notes) if notes else None,
                              "target_ms": TARGET_FIRST_NOTE_MS},
    }


def report(r: dict[str, Any]) -> str:
    s, c, d = r["server"], r["cli"], r["daemon_first_note"]
    rows = [f"  {name:<12} {v['source']:<9} work {v['work_s']:>6.2f} s  queued {v['queued_s']:>6.2f} s  {v.get('detail', '')}"
            for name, v in c["stages"].items()]
    return "\n".join([
        f"server: {s['name']} with {s['model']}: {s['tokens_per_s_median']} tokens/s, first content {s['first_content_s_median']} s "
        f"(medians of {s['requests']})",
        f"structured output: {r['form']['line']}",
        f"backbeat generate ({BARS} bars): {c['wall_s']} s wall, budget {c['budget_s']:g} s; "
        f"{c['clips_from_model']} of {c['clips']} clips from the model",
        *rows,
        *(f"  said: {line}" for line in c["lines"]),
        f"daemon, time to first note with the model configured ({d['runs']} runs): median {d['median_ms']} ms "
        f"(target <= {d['target_ms']} ms)",
    ])
