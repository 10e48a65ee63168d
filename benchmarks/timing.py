"""How late the engine sends, against the two usual designs, idle and under load.

Every implementation plays the same dense stream of events (default 6,000: notes on four channels,
some in chords, about one event per 1.5 ms at 120 BPM) and stamps ``time.perf_counter()`` just before
each send; lateness = stamp - deadline.

* ``backbeat``: the engine process, fed a horizon ahead like the daemon feeds it.
* ``thread_baseline``: a Python thread in this (busy) process sleeping to absolute deadlines.
* ``mido_play``: ``mido.MidiFile.play()``, sending each message as it is yielded, measured against
  the file's own schedule.

Scenarios: ``idle``; ``cpu_load`` (two niced CPU-hog processes); ``generation_load`` (this process
composes songs with the algorithmic pipeline in a thread the whole time). Sends go to a virtual
MIDI port when a MIDI API is usable, else to a null sink (the JSON says which). The engine's CPU use
is measured too: stopped, and playing a 4-part song with MIDI clock out.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import bisect
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from backbeat.engine.client import EngineClient
from backbeat.engine.commands import EngineConfig
from backbeat.engine.events import Event, Note, note_events
from backbeat.engine.time import PPQ, TempoMap

from . import jack

SCENARIOS = ("idle", "cpu_load", "generation_load")
IMPLS = ("backbeat", "thread_baseline", "mido_play")
BPM = 120.0
PROMPTS = ("Frank Ocean meets Burial, late-night vibes", "Trap beat, dark, 140 BPM", "deep house in A minor")
_HOG = "import os\nos.nice(10)\nwhile True:\n    pass\n"


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser("timing", help="engine lateness vs a thread and mido, idle and under load")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--events", type=int, default=6000, help="events per run (at least 5000 for the report)")
    p.add_argument("--sink", choices=("auto", "midi", "null"), default="auto", help="where sends go")
    p.add_argument("--cpu-seconds", type=float, default=10.0, help="length of each CPU-use measurement (0: skip)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    result = measure(events=args.events, sink=args.sink, cpu_seconds=args.cpu_seconds)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


# --- the events --------------------------------------------------------------------------------


def dense_events(count: int, seed: int = 7) -> list[Event]:
    """``count`` note events: four channels, starts 0-6 ticks apart (0 = a chord), short notes."""
    rng = random.Random(seed)
    notes, tick = [], PPQ // 2
    while len(notes) * 2 < count:
        tick += rng.choice((0, 1, 2, 2, 3, 4, 6))
        notes.append(Note(tick, rng.randint(2, 12), rng.randint(48, 84), rng.randint(40, 120), rng.randrange(4)))
    return note_events("bench", notes)[:count]


class Stamps:
    """Lateness samples of one run (a baseline's; the engine keeps its own histogram)."""

    def __init__(self) -> None:
        self.late: list[float] = []

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.late)
        n = len(ordered)
        return {
            "events": n,
            "p50_ms": round(ordered[n // 2] * 1e3, 3),
            "p99_ms": round(ordered[min(n - 1, int(n * 0.99))] * 1e3, 3),
            "max_ms": round(ordered[-1] * 1e3, 3),
            "early_max_ms": round(max(0.0, -ordered[0]) * 1e3, 3),
        }


def _owner_sink(api: str) -> tuple[Callable[[list[int] | tuple[int, ...]], None], Callable[[], None]]:
    """send(message) and close() for the baselines: a virtual port on ``api``, or nothing."""
    if api == "null":
        return (lambda message: None), (lambda: None)
    import rtmidi

    from backbeat.engine.ports import APIS

    out = rtmidi.MidiOut(APIS[api], name="backbeat-bench-baseline")
    out.open_virtual_port("out")
    return out.send_message, out.delete


# --- the three implementations -----------------------------------------------------------------


def run_engine(events: list[Event], api: str) -> dict[str, float]:
    tempo = TempoMap.constant(BPM)
    config = EngineConfig(midi_api=api, client_name="backbeat-bench", tempo=tempo)
    with EngineClient(config) as engine:
        engine.reset_stats()  # the start-up panic is not part of the measurement
        ticks, fed, end = [e.tick for e in events], 0, events[-1].tick + 1
        horizon = 0.5 * BPM * PPQ / 60

        def feed(playhead: float) -> None:  # what lies within the horizon, as an owner feeds it
            nonlocal fed
            upto = bisect.bisect_left(ticks, playhead + horizon, lo=fed)
            if upto > fed:
                engine.schedule(events[fed:upto])
                fed = upto

        feed(0)
        engine.start(0)
        started = time.perf_counter()
        while True:
            playhead = (time.perf_counter() - started) * BPM * PPQ / 60
            feed(playhead)
            if fed == len(events) and playhead - PPQ >= end:  # a beat past the end: everything was sent
                break
            time.sleep(0.02)
        t = engine.wait_telemetry()
        engine.stop()
    return {
        "events": t.samples, "p50_ms": round(t.p50_ms, 3), "p99_ms": round(t.p99_ms, 3),
        "max_ms": round(t.max_ms, 3), "early_max_ms": round(t.early_max_ms, 3),
        "dropped": t.dropped_stale, "priority": t.priority, "timer_slack_ns": t.timer_slack_ns,
    }


def run_thread(events: list[Event], api: str) -> dict[str, float]:
    tempo = TempoMap.constant(BPM)
    send, close = _owner_sink(api)
    stamps = Stamps()

    def play() -> None:
        t0 = time.perf_counter() + 0.1
        for ev in events:
            deadline = t0 + tempo.seconds_at(ev.tick)
            wait = deadline - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            stamp = time.perf_counter()
            send(ev.message)
            stamps.late.append(stamp - deadline)

    thread = threading.Thread(target=play, name="thread-baseline")
    thread.start()
    thread.join()
    close()
    return stamps.summary()


def run_mido(events: list[Event], api: str) -> dict[str, float]:
    import mido

    send, close = _owner_sink(api)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(BPM), time=0)])
    last = 0
    for ev in events:
        track.append(mido.Message.from_bytes(list(ev.message), time=ev.tick - last))
        last = ev.tick
    midi_file = mido.MidiFile(type=0, ticks_per_beat=PPQ, tracks=[track])
    stamps = Stamps()
    start: list[float] = []

    def now() -> float:  # mido reads its clock first to fix its start time: record it
        t = time.perf_counter()
        if not start:
            start.append(t)
        return t

    scheduled = 0.0
    for msg in midi_file.play(meta_messages=True, now=now):
        scheduled += msg.time
        if msg.is_meta:
            continue
        stamp = time.perf_counter()
        send(msg.bytes())
        stamps.late.append(stamp - (start[0] + scheduled))
    close()
    return stamps.summary()


RUNNERS: dict[str, Callable[[list[Event], str], dict[str, float]]] = {
    "backbeat": run_engine, "thread_baseline": run_thread, "mido_play": run_mido,
}


# --- loads -------------------------------------------------------------------------------------


def _generation_source() -> tuple[str, Callable[[int], object]]:
    try:
        from backbeat.generators.pipeline import compose_sync
    except ImportError:
        return "cpu_loop_fallback", lambda i: sum(j * j for j in range(200_000))
    return "generators.pipeline.compose_sync", lambda i: compose_sync(PROMPTS[i % len(PROMPTS)], seed=i, bars=64)


@contextmanager
def load(name: str) -> Iterator[None]:
    """Run the scenario's load around the body."""
    if name == "cpu_load":
        hogs = [subprocess.Popen([sys.executable, "-c", _HOG]) for _ in range(2)]
        try:
            time.sleep(0.3)
            yield
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
    elif name == "generation_load":
        stop = threading.Event()
        _, work = _generation_source()

        def generate() -> None:
            i = 0
            while not stop.is_set():
                work(i)
                i += 1

        thread = threading.Thread(target=generate, name="generation-load", daemon=True)
        thread.start()
        try:
            time.sleep(0.3)
            yield
        finally:
            stop.set()
            thread.join()
    else:
        yield


# --- CPU use -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time of process ``pid`` (user + system, every thread, including threads that have
    exited: trio's idle worker threads come and go, and a per-thread sum would lose their time)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _song_clips():
    try:
        from backbeat.daemon.timeline import Timeline
        from backbeat.generators.pipeline import compose_sync
    except ImportError:
        notes = [Note(t, 120, 36 + (t // 480) % 12, 100, c) for c in range(4) for t in range(0, 64 * 1920, 240)]
        return "synthetic 4-part pattern", note_events("song", notes), TempoMap.constant(BPM)
    song = compose_sync(PROMPTS[0], seed=11, bars=64)
    timeline = Timeline(song, loop=False)  # the one bridge from a song to the engine's events
    events = sorted((e for c in timeline.commit(timeline.total_bars * timeline.bar_ticks) for e in c.events), key=Event.sort_key)
    return f"{song.intent.prompt!r} ({len(song.tracks)} parts, {song.bpm:g} BPM)", events, TempoMap.constant(song.bpm)


def measure_cpu(api: str, seconds: float) -> dict[str, object]:
    """Engine CPU use over ``seconds`` stopped, then playing a 4-part song with MIDI clock out."""
    title, events, tempo = _song_clips()
    config = EngineConfig(midi_api=api, client_name="backbeat-bench", tempo=tempo, clock_out=())
    with EngineClient(config) as engine:
        assert engine.pid is not None
        time.sleep(0.5)
        before = cpu_seconds(engine.pid)
        time.sleep(seconds)
        stopped = cpu_seconds(engine.pid) - before
        engine.schedule(e for e in events if tempo.seconds_at(e.tick) < seconds + 2)
        engine.start(0)
        time.sleep(0.5)
        before = cpu_seconds(engine.pid)
        time.sleep(seconds)
        playing = cpu_seconds(engine.pid) - before
        engine.stop()
    return {
        "seconds": seconds, "song": title, "clock_out": True,
        "stopped_percent": round(100 * stopped / seconds, 4), "playing_percent": round(100 * playing / seconds, 4),
    }


# --- the whole run -----------------------------------------------------------------------------


def _sink_api(sink: str) -> str:
    if sink == "null":
        return "null"
    from backbeat.engine.errors import NoMidiApiError
    from backbeat.engine.ports import choose_api

    try:
        return choose_api("auto")
    except NoMidiApiError:
        if sink == "midi":
            raise
        return "null"


def measure(events: int = 6000, sink: str = "auto", cpu_seconds: float = 10.0) -> dict[str, object]:
    """Run every scenario; with no usable MIDI API but jackd installed, on a private JACK server
    (the dummy driver), so the sends go to a real port."""
    if sink != "null" and _sink_api("auto") == "null" and jack.JACKD is not None:
        with jack.server("backbeat-timing"):
            return _measure(events, sink, cpu_seconds)
    return _measure(events, sink, cpu_seconds)


def _measure(events: int, sink: str, cpu_seconds: float) -> dict[str, object]:
    stream = dense_events(events)
    api = _sink_api(sink)
    scenarios: list[dict[str, object]] = []
    engine_info: dict[str, object] = {}
    for scenario in SCENARIOS:
        for impl in IMPLS:
            with load(scenario):
                row = RUNNERS[impl](stream, api)
            for key in ("priority", "timer_slack_ns"):
                if key in row:
                    engine_info[key] = row.pop(key)
            if "dropped" in row:
                engine_info.setdefault("dropped_stale", {})[scenario] = row.pop("dropped")
            scenarios.append({"name": scenario, "impl": impl, **row})
    result: dict[str, object] = {
        "scenarios": scenarios,
        "sink": "null sink (no MIDI API usable)" if api == "null" else f"virtual {api} port",
        "engine": engine_info,
        "generation_load_source": _generation_source()[0],
        "span_s": round(TempoMap.constant(BPM).seconds_at(stream[-1].tick), 2),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform},
        "targets": targets(scenarios),
    }
    if cpu_seconds > 0:
        result["cpu"] = measure_cpu(api, cpu_seconds)
        if api != "null":  # the engine's own loop, without the MIDI system's client thread
            result["cpu_null_sink"] = measure_cpu("null", cpu_seconds)
    return result


def targets(rows: list[dict[str, object]]) -> dict[str, bool]:
    """Issue 3's "done when" timing targets, checked on this run."""
    by = {(r["name"], r["impl"]): r for r in rows}
    out = {}
    for scenario in ("cpu_load", "generation_load"):
        r = by.get((scenario, "backbeat"))
        if r:
            out[f"{scenario}: p99 <= 1.5 ms, max <= 5 ms, early <= 0.1 ms"] = (
                r["p99_ms"] <= 1.5 and r["max_ms"] <= 5.0 and r["early_max_ms"] <= 0.1
            )
    engine, thread = by.get(("generation_load", "backbeat")), by.get(("generation_load", "thread_baseline"))
    if engine and thread:
        out["generation_load: p99 at least 3x better than thread_baseline"] = thread["p99_ms"] >= 3 * engine["p99_ms"]
    return out


def report(result: dict) -> str:
    lines = [f"{'scenario':<16} {'impl':<16} {'events':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'early ms':>8}"]
    for r in result["scenarios"]:
        lines.append(
            f"{r['name']:<16} {r['impl']:<16} {r['events']:>6} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f}"
            f" {r['max_ms']:>8.3f} {r['early_max_ms']:>8.3f}"
        )
    lines.append(f"sink: {result['sink']}; engine: {result['engine']}; load: {result['generation_load_source']}")
    if "cpu" in result:
        cpu = result["cpu"]
        lines.append(f"engine CPU: stopped {cpu['stopped_percent']}%, playing {cpu['song']} {cpu['playing_percent']}%")
    if "cpu_null_sink" in result:
        own = result["cpu_null_sink"]
        lines.append(f"engine CPU on a null sink (its own loop, no MIDI client thread): stopped {own['stopped_percent']}%, playing {own['playing_percent']}%")
    lines.extend(f"{'ok  ' if ok else 'FAIL'} {what}" for what, ok in result["targets"].items())
    return "\n".join(lines)
