"""The live daemon, measured as a producer meets it (issue 4):

* ``first_note``: from a ``generate {play: true}`` request on a stopped daemon to the first note-on
  arriving at a JACK input connected to the daemon's port (algorithmic backend), N times.
* ``clients``: the engine's p99 lateness with no client, and with 16 clients subscribed to every
  event (each also asking ``status`` twice a second, as a TUI refreshes), over alternating rounds.
* ``idle_cpu``: the daemon process's CPU while stopped with a song loaded, and its engine's.

Each daemon runs as ``backbeat daemon`` in a subprocess against a private JACK server (dummy driver).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backbeat.daemon.client import DaemonClient, end_process, wait_until_ready
from backbeat.daemon.framing import Decoder, encode
from backbeat.daemon.protocol import request

from . import jack
from .timing import cpu_seconds

PROMPT = "Trap beat, dark, 140 BPM"


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser("daemon", help="time to first note, 16 subscribed clients, idle CPU")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", type=int, default=10, help="first-note runs")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of 0 and 16 clients")
    p.add_argument("--seconds", type=float, default=12.0, help="playing time per clients round")
    p.set_defaults(run=_run)


@contextmanager
def running_daemon(
    folder: Path, settings: dict[str, str] | None = None, *, midi_api: str = "jack", ready_s: float = 20.0
) -> Iterator[tuple[subprocess.Popen, Path]]:
    """``backbeat daemon`` on JACK (or ``midi_api``) with its files under ``folder``, ready (its engine
    up) when yielded; ``settings`` are environment variables on top of this process's (an empty value
    unsets one)."""
    sock = folder / f"d{time.monotonic_ns()}.sock"
    env = {**os.environ, "OUTPUT_DIR": str(folder / "out"), "XDG_STATE_HOME": str(folder / "state"), **(settings or {})}
    env = {k: v for k, v in env.items() if v != ""}
    proc = subprocess.Popen([sys.executable, "-m", "backbeat", "daemon", "--socket", str(sock), "--midi-api", midi_api],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_until_ready(sock, proc, seconds=ready_s):
            raise RuntimeError("the daemon did not start")
        yield proc, sock
    finally:
        end_process(proc)


def first_note(folder: Path, runs: int) -> dict[str, object]:
    times = []
    with running_daemon(folder) as (_, sock):
        receiver = jack.Receiver(f"bench-recv-{os.getpid()}")
        receiver.connect_from("backbeat:out")
        try:
            with DaemonClient(sock) as client:
                for i in range(runs):
                    client.request("stop")
                    time.sleep(0.5)
                    seen = len(receiver.stamped())
                    t0 = time.perf_counter()
                    client.request("generate", prompt=PROMPT, seed=i + 1, bars=16, play=True)
                    if (ms := receiver.first_note_ms(seen, t0)) is not None:
                        times.append(ms)
                client.request("stop")
        finally:
            receiver.close()
    ordered = sorted(times)
    return {"runs": len(times), "median_ms": round(statistics.median(ordered), 1), "max_ms": round(ordered[-1], 1),
            "min_ms": round(ordered[0], 1), "target_median_ms": 500}


def _client_load(sock: Path, stop: threading.Event) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(sock))
    s.settimeout(0.1)
    decoder, rid = Decoder(), 1
    s.sendall(encode(request(rid, "subscribe", {})))
    last = time.monotonic()
    while not stop.is_set():
        if time.monotonic() - last > 0.5:
            rid += 1
            s.sendall(encode(request(rid, "status", {})))
            last = time.monotonic()
        try:
            data = s.recv(65536)
        except TimeoutError:
            continue
        if not data:
            break
        decoder.feed(data)
        for _ in decoder:
            pass
    s.close()


def _play_round(folder: Path, clients: int, seconds: float) -> float:
    with running_daemon(folder) as (_, sock):
        stop = threading.Event()
        threads = [threading.Thread(target=_client_load, args=(sock, stop), daemon=True) for _ in range(clients)]
        for t in threads:
            t.start()
        with DaemonClient(sock) as client:
            client.request("generate", prompt=PROMPT, seed=7, bars=32, play=True)
            time.sleep(seconds)
            p99 = client.request("status")["engine"]["lateness_ms"]["p99"]
        stop.set()
        for t in threads:
            t.join(2)
    return p99


def clients(folder: Path, rounds: int, seconds: float) -> dict[str, object]:
    alone, crowded = [], []
    for _ in range(rounds):
        alone.append(_play_round(folder, 0, seconds))
        crowded.append(_play_round(folder, 16, seconds))
    a, c = statistics.median(alone), statistics.median(crowded)
    return {"rounds": rounds, "p99_ms_no_clients": [round(x, 3) for x in alone], "p99_ms_16_clients": [round(x, 3) for x in crowded],
            "median_p99_ms_no_clients": round(a, 3), "median_p99_ms_16_clients": round(c, 3),
            "p99_change_ms": round(c - a, 3), "target_change_ms": 0.2}


def idle_cpu(folder: Path, seconds: float = 10.0) -> dict[str, object]:
    with running_daemon(folder) as (proc, sock):
        with DaemonClient(sock) as client:
            client.request("generate", prompt=PROMPT, seed=3, bars=16, play=False)
            time.sleep(2.0)
            client.request("stop")
        engine = int(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()[0])
        d0, e0, t0 = cpu_seconds(proc.pid), cpu_seconds(engine), time.monotonic()
        time.sleep(seconds)
        d1, e1, t1 = cpu_seconds(proc.pid), cpu_seconds(engine), time.monotonic()
    span = t1 - t0
    return {"seconds": round(span, 1), "daemon_percent": round(100 * (d1 - d0) / span, 3),
            "engine_percent": round(100 * (e1 - e0) / span, 3), "target_daemon_percent": 1.0}


def measure(runs: int = 10, rounds: int = 3, seconds: float = 12.0) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, jack.server("backbeat-bench"):
        folder = Path(tmp)
        return {"benchmark": "daemon", "sink": "JACK dummy driver, 64-frame periods",
                "first_note": first_note(folder, runs), "clients": clients(folder, rounds, seconds), "idle_cpu": idle_cpu(folder)}


def report(r: dict) -> str:
    f, c, i = r["first_note"], r["clients"], r["idle_cpu"]
    return "\n".join([
        f"time to first note ({f['runs']} runs): median {f['median_ms']} ms, max {f['max_ms']} ms (target median <= {f['target_median_ms']} ms)",
        f"engine p99 lateness: {c['median_p99_ms_no_clients']} ms alone, {c['median_p99_ms_16_clients']} ms with 16 subscribed clients "
        f"(change {c['p99_change_ms']:+} ms; target <= {c['target_change_ms']} ms)",
        f"idle (stopped): daemon {i['daemon_percent']}% of a core, engine {i['engine_percent']}% (target daemon < {i['target_daemon_percent']}%)",
    ])


def _run(args: argparse.Namespace) -> int:
    result = measure(args.runs, args.rounds, args.seconds)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0
