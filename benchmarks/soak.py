"""A long live session, checked at the listener (issues 16 and 17).

``backbeat daemon`` in a subprocess on a private JACK server plays a looped song for ``minutes``,
with a refinement, a jump, a tempo change or a mute every ``change_every`` seconds, into two
independent receivers (rtmidi's JACK input and ``jack_midi_dump``). Every ``report_every`` seconds
one line: the engine's p99 and max lateness, the daemon's RSS and open descriptors, the size of the
live session's folder and of the output folder, what arrived. At the end, playback stops and each receiver's messages are checked key
by key (``integrity.Keys``): note-ons and note-offs balanced per key, and alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from backbeat.daemon.client import DaemonClient

from . import jack
from .daemon import running_daemon
from .integrity import Keys

PROMPT = "Frank Ocean meets Burial, late-night vibes"
CHANGES: tuple[tuple[str, dict[str, object]], ...] = (
    ("refine", {"text": "bass too busy"}),
    ("jump", {"section": 1, "quantize": "bar"}),
    ("refine", {"text": "drums busier"}),
    ("tempo", {"bpm": 128}),
    ("mute", {"track": "lead", "on": True}),
    ("refine", {"text": "darker chords"}),
    ("mute", {"track": "lead", "on": False}),
    ("regenerate", {"part": "drums"}),
    ("tempo", {"bpm": 100}),
    ("jump", {"section": 0, "quantize": "section"}),
)
"""What the producer does, in turn, all session long."""


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser("soak", help="a long live session with periodic changes, checked key by key at two JACK receivers")
    p.add_argument("--json", action="store_true")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--change-every", type=float, default=20.0, help="seconds between changes")
    p.add_argument("--report-every", type=float, default=30.0, help="seconds between progress lines")
    p.set_defaults(run=_run)


def _proc_figures(pid: int) -> dict[str, float]:
    rss_kb = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return {"rss_mb": round(rss_kb / 1024, 1), "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def _folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 2) if folder.exists() else 0.0


def _keys(messages: list[tuple[int, ...]]) -> Keys:
    keys = Keys()
    for i, m in enumerate(messages):
        keys.feed("", m, f"message {i}")
    return keys


def measure(minutes: float = 10.0, change_every: float = 20.0, report_every: float = 30.0,
            progress=print) -> dict[str, object]:
    """Run the session; ``progress`` gets one line every ``report_every`` seconds."""
    samples: list[dict[str, object]] = []
    changes = {"made": 0, "refused": 0}
    with tempfile.TemporaryDirectory() as tmp, jack.server("backbeat-soak") as server:
        folder = Path(tmp)
        with running_daemon(folder) as (proc, sock):
            receiver, dump = jack.Receiver(f"soak-recv-{os.getpid()}"), jack.Dump(f"soak-dump-{os.getpid()}")
            try:
                receiver.connect_from("backbeat:out")
                dump.connect_from("backbeat:out")
                with DaemonClient(sock) as client:
                    client.request("generate", prompt=PROMPT, seed=11, bars=8, play=True)
                    started = time.monotonic()
                    end = started + minutes * 60
                    next_change, next_report, turn = started + change_every, started + report_every, 0
                    while (now := time.monotonic()) < end:
                        if now >= next_change:
                            cmd, args = CHANGES[turn % len(CHANGES)]
                            turn += 1
                            try:
                                client.request(cmd, **args)
                                changes["made"] += 1
                            except Exception as error:  # a refused change is counted, never fatal
                                changes["refused"] += 1
                                progress(f"  {cmd} {args}: {error}")
                            next_change += change_every
                        if now >= next_report:
                            status = client.request("status")
                            lateness = status["engine"]["lateness_ms"]
                            keys = _keys(receiver.messages())
                            sample = {
                                "seconds": round(now - started), "p99_ms": round(lateness["p99"], 3),
                                "max_ms": round(lateness["max"], 3), **_proc_figures(proc.pid),
                                "output_mb": _folder_mb(folder / "out"),
                                "session_mb": _folder_mb(Path(status["session"]["path"])) if (status.get("session") or {}).get("path") else 0.0,
                                "received": sum(keys.ons.values()) + sum(keys.offs.values()),
                                "alternation_errors": len(keys.problems), "engine_alive": status["engine"]["alive"],
                            }
                            samples.append(sample)
                            progress(
                                f"{sample['seconds']:>5} s  engine p99 {sample['p99_ms']} ms max {sample['max_ms']} ms  "
                                f"daemon {sample['rss_mb']} MB {sample['fds']} fds  session {sample['session_mb']} MB  output {sample['output_mb']} MB  "
                                f"{sample['received']} notes received, {sample['alternation_errors']} alternation errors"
                            )
                            next_report += report_every
                        time.sleep(0.2)
                    client.request("stop")
                    time.sleep(1.0)
                    final = client.request("status")
            finally:
                receiver.close()
                dump.close()
            at_rtmidi, at_dump = _keys(receiver.messages()), _keys(dump.messages())
        xruns = server.xruns
    return {
        "benchmark": "soak", "minutes": minutes, "changes": changes, "samples": samples,
        "engine": {"p99_ms": final["engine"]["lateness_ms"]["p99"], "max_ms": final["engine"]["lateness_ms"]["max"],
                   "events_sent": final["engine"]["events_sent"]},
        "rtmidi_receiver": {**at_rtmidi.summary(), "first_problems": at_rtmidi.problems[:5]},
        "jack_midi_dump": {**at_dump.summary(), "first_problems": at_dump.problems[:5]},
        "jackd_xruns": xruns,
    }


def report(r: dict) -> str:
    lines = [f"soak: {r['minutes']} min, {r['changes']['made']} changes made ({r['changes']['refused']} refused), "
             f"jackd reported {r['jackd_xruns']} xruns"]
    for name in ("rtmidi_receiver", "jack_midi_dump"):
        k = r[name]
        lines.append(f"  {name}: {k['note_ons']} note-ons, {k['note_offs']} note-offs on {k['keys']} keys; "
                     f"{k['unbalanced_keys']} unbalanced keys, {k['alternation_errors']} alternation errors, "
                     f"{k['sounding_at_end']} sounding after stop")
        lines += [f"    {p}" for p in k["first_problems"]]
    first, last = r["samples"][0] if r["samples"] else {}, r["samples"][-1] if r["samples"] else {}
    if first:
        lines.append(f"  daemon RSS {first['rss_mb']} -> {last['rss_mb']} MB, descriptors {first['fds']} -> {last['fds']}, "
                     f"session {first['session_mb']} -> {last['session_mb']} MB, output {first['output_mb']} -> {last['output_mb']} MB; engine p99 {r['engine']['p99_ms']:.3f} ms, "
                     f"max {r['engine']['max_ms']:.3f} ms")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    result = measure(args.minutes, args.change_every, args.report_every,
                     progress=(lambda line: None) if args.json else print)
    print(json.dumps(result, indent=2) if args.json else report(result))
    balanced = all(result[k]["unbalanced_keys"] == 0 and result[k]["alternation_errors"] == 0
                   for k in ("rtmidi_receiver", "jack_midi_dump"))
    return 0 if balanced else 1
