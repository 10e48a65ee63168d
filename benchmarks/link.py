"""``backbeat bench link [--json]``: how close bar downbeats land to an Ableton Link session's bar phase.

Inside a loopback-only network namespace (``benchmarks.netns``; the command re-runs itself there) it
starts a private JACK server (dummy driver), a Link peer in this process, and a real engine process
that joins the session with MIDI clock out on its port. The engine plays a marker note on every beat;
a JACK receiver stamps every arrival with Link's own clock (``Clock.micros()``), and each stamp is
compared with the session's phase at that moment: downbeats with the bar phase (quantum one bar),
every beat with the beat phase, and every MIDI clock pulse with its 1/24-beat grid ("the same way").
JACK delivers MIDI once per period, so the period (``--period`` frames at 48 kHz) bounds what a
receiver can see; the figure includes it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from typing import Any

from . import netns

CHANNEL, MARK, DOWNBEAT = 15, 60, 72
"""Marker notes on channel 16: 72 on a bar's first beat, 60 on the others."""


def _errors_ms(phases: list[float], unit: float, bpm: float) -> list[float]:
    """Phase (in beats, ``unit`` beats to the grid) wrapped to the nearest grid point, in ms."""
    return [((p + unit / 2) % unit - unit / 2) * 60_000 / bpm for p in phases]


def _summary(errors: list[float]) -> dict[str, float]:
    if not errors:
        return {"count": 0}
    size = sorted(abs(e) for e in errors)
    p95 = size[min(len(size) - 1, round(0.95 * (len(size) - 1)))]
    return {
        "count": len(errors), "mean_ms": round(statistics.fmean(errors), 4), "p50_ms": round(statistics.median(size), 4),
        "p95_ms": round(p95, 4), "max_ms": round(size[-1], 4),
    }


def run_inside(bars: int, bpm: float, period: int, peer_bpm: float | None) -> dict[str, Any]:
    """The measurement itself; only inside a loopback-only namespace."""
    import link

    from backbeat.engine.client import EngineClient
    from backbeat.engine.clock_sync import CLOCK
    from backbeat.engine.commands import EngineConfig
    from backbeat.engine.events import Note, note_events
    from backbeat.engine.time import PPQ, TempoMap

    from .jack import Receiver, server

    if not netns.inside():
        raise netns.NamespaceError("the Link benchmark runs only inside a loopback-only network namespace")
    session_bpm = peer_bpm or bpm
    with server("bb-link", period=period):
        peer = link.Link(session_bpm)
        peer.enabled = True
        micros = peer.clock().micros
        receiver = Receiver(f"rx-{uuid.uuid4().hex[:6]}", clock=lambda: micros() / 1e6)
        client = f"bb-{uuid.uuid4().hex[:6]}"
        config = EngineConfig(midi_api="jack", client_name=client, clock_out=(), tempo=TempoMap.constant(bpm), link=True)
        beats = bars * 4
        marks = [Note(b * PPQ, PPQ // 4, DOWNBEAT if b % 4 == 0 else MARK, 100, CHANNEL) for b in range(beats)]
        try:
            with EngineClient(config) as engine:
                end = time.monotonic() + 10
                while engine.wait_telemetry().link.peers < 1:
                    if time.monotonic() > end:
                        raise RuntimeError("the engine's Link peer did not find the benchmark's within 10 s")
                    time.sleep(0.05)
                receiver.connect_from(f"{client}:out")
                engine.set_tempo_map(TempoMap.constant(bpm))
                engine.schedule(note_events("marks", marks))
                engine.start(0)
                started = engine.wait_telemetry()
                receiver.wait_for(beats, lambda m: m[0] == 0x90 | CHANNEL, timeout=beats * 60 / session_bpm + 10)
                final = engine.wait_telemetry()
                engine.stop()
        finally:
            receiver.close()
        state = peer.captureSessionState()
        tempo = state.tempo()
        arrivals = receiver.stamped()
        peer.enabled = False

    def phase(t: float, quantum: float) -> float:
        return state.phaseAtTime(round(t * 1e6), quantum)

    notes = [(t, m) for t, m in arrivals if m[0] == 0x90 | CHANNEL]
    downbeats = _errors_ms([phase(t, 4) for t, m in notes if m[1] == DOWNBEAT], 4.0, tempo)
    every = _errors_ms([phase(t, 1) for t, _ in notes], 1.0, tempo)
    pulses = [t for t, m in arrivals if m == (CLOCK,)]
    first = next((t for t, _ in notes), None)
    pulses = [t for t in pulses if first is not None and t >= first - 1e-3]  # from the first downbeat on
    clock_errors = _errors_ms([state.beatAtTime(round(t * 1e6), 4) for t in pulses], 1 / 24, tempo)
    intervals = [(b - a) * 1e3 for a, b in zip(pulses, pulses[1:])]
    ideal = 60_000 / tempo / 24
    return {
        "bars": bars, "song_bpm": bpm, "session_bpm": round(tempo, 4), "quantum_beats": 4,
        "jack_period_frames": period, "jack_period_ms": round(period / 48, 3),
        "peers_seen_by_engine": final.link.peers if final.link else 0,
        "engine_phase_offset_ms": round(final.link.phase_offset_ms, 4) if final.link else None,
        "engine_lateness_p99_ms": round(final.p99_ms, 4), "engine_state_at_start": started.state,
        "downbeats": _summary(downbeats),
        "beats": _summary(every),
        "midi_clock": {
            **_summary(clock_errors),
            "interval_jitter_sd_ms": round(statistics.pstdev(intervals), 4) if len(intervals) > 1 else None,
            "interval_max_dev_ms": round(max(abs(i - ideal) for i in intervals), 4) if intervals else None,
        },
    }


def measure(bars: int = 16, bpm: float = 120.0, period: int = 32, peer_bpm: float | None = None) -> dict[str, Any]:
    """Run the benchmark in a fresh loopback-only namespace and return its figures."""
    netns.check()
    argv = [sys.executable, "-m", "backbeat.benchmarks.link", "--bars", str(bars), "--bpm", str(bpm),
            "--period", str(period)] + (["--peer-bpm", str(peer_bpm)] if peer_bpm else [])
    done = netns.run(argv, timeout=bars * 4 * 60 / (peer_bpm or bpm) + 90, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"the Link benchmark failed inside its namespace: {tail}")
    return json.loads(done.stdout)


def report(r: dict[str, Any]) -> str:
    rows = [("bar downbeats", r["downbeats"]), ("every beat", r["beats"]), ("MIDI clock pulses", r["midi_clock"])]
    lines = [
        f"Link session {r['session_bpm']} BPM (song {r['song_bpm']}), quantum {r['quantum_beats']} beats, "
        f"{r['bars']} bars; JACK period {r['jack_period_ms']} ms; engine lateness p99 {r['engine_lateness_p99_ms']} ms",
        f"{'phase error at the JACK receiver':34} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}",
    ]
    for label, s in rows:
        lines.append(f"{label:34} {s['count']:>5} {s.get('p50_ms', 0):>8.3f} {s.get('p95_ms', 0):>8.3f} {s.get('max_ms', 0):>8.3f}")
    c = r["midi_clock"]
    lines.append(f"MIDI clock interval jitter: sd {c['interval_jitter_sd_ms']} ms, largest deviation {c['interval_max_dev_ms']} ms")
    return "\n".join(lines)


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--bpm", type=float, default=120.0, help="the song's tempo")
    parser.add_argument("--peer-bpm", type=float, help="the session's tempo, if the peer should start at another")
    parser.add_argument("--period", type=int, default=32, help="JACK period in frames at 48 kHz")


def _run(args: argparse.Namespace) -> int:
    result = measure(args.bars, args.bpm, args.period, args.peer_bpm)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser("link", help="downbeat phase error against an Ableton Link peer at a JACK receiver, beside MIDI clock jitter")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _args(p)
    p.set_defaults(run=_run)


if __name__ == "__main__":  # the run inside the namespace: figures as JSON on stdout
    parser = argparse.ArgumentParser()
    _args(parser)
    a = parser.parse_args()
    print(json.dumps(run_inside(a.bars, a.bpm, a.period, a.peer_bpm)))
