"""The engine process: one loop that sleeps to the next absolute deadline, sends, and repeats.

Started by ``engine.client`` (multiprocessing, spawn) with two pipe ends: commands in, telemetry out.
The loop waits in ``select.select`` (whose float timeout is precise to microseconds with 1 ns timer
slack; ``Connection.poll`` rounds to whole milliseconds) on the command pipe and a wake-up socket, so
a command, a signal or MIDI input wakes it at once and nothing else does. Windows cannot select on
pipes: there it waits in ``multiprocessing.connection.wait``, to the millisecond. Within ``GUARD`` of
a deadline it stops listening and sleeps straight to the deadline: a command that arrives then waits
until after the send. Soft work (telemetry, port polls) runs only in gaps of at least ``SOFT_GAP``.

Imports stay minimal (no pydantic, trio, generators, daemon): this process exists to be on time.
"""

from __future__ import annotations

import gc
import os
import select
import signal
import socket
import sys
import time
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for

from .clock_sync import CLOCK, ClockFollower, ClockOut, Follow
from .commands import (
    EngineConfig, Fault, Jump, Notice, Panic, ReplaceFrom, RequestTelemetry, ResetStats, Schedule,
    SetTempo, SetTempoMap, Shutdown, Start, Stop, Telemetry,
)
from .errors import EngineError
from .link import LinkSync, open_link
from .notemap import mapped
from .outbox import Outbox
from .ports import PortSet, open_ports
from .priority import Granted, make_timely
from .scheduler import Scheduler, Send, Transport
from .stats import LatencyHistogram
from .time import TempoMap

GUARD = 0.0015
"""Closer than this to a deadline, the loop only sleeps and sends."""
SOFT_GAP = 0.002
"""Telemetry and port polls (~50 µs each) run only when the next deadline is at least this far..."""
POLL_FORCE = 1.8
"""...unless a port poll is this overdue (a vanished port must be noticed within 2 s)..."""
TELEMETRY_FORCE = 0.5
"""...or telemetry is this overdue (a dense passage may have no 2 ms gap for a while)."""
LINK_FORCE = 0.02
"""...or a Link sync is this overdue."""
SETTLE = 0.02
"""A port that just asked JACK for a connection is polled again this soon: it is up, and gets its
panic, once the graph has the connection."""

clock = time.perf_counter
WINDOWS = sys.platform == "win32"


def main(config: EngineConfig, commands: Connection, telemetry: Connection) -> None:
    """Entry point of the engine process."""
    # Ctrl-C reaches the whole process group; the owner handles it and stops us cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox = Outbox(telemetry)
    wake_r, wake_w = socket.socketpair()  # a socket, so Windows can wait on it too
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    inbox: deque[tuple[float, list[int]]] = deque()

    def on_input(message: list[int]) -> None:  # rtmidi's thread: stamp, queue, wake the loop
        inbox.append((clock(), message))
        try:
            wake_w.send(b"i")
        except BlockingIOError:
            pass  # already awake

    def on_lost() -> None:  # libjack's thread: the JACK server is gone
        try:
            wake_w.send(b"j")
        except BlockingIOError:
            pass

    granted = make_timely(config.rt_priority, config.nice)
    try:
        ports = open_ports(config, on_input, on_lost)
        link = open_link(config.tempo.bpm_at(0), config.meter, config.link_start_stop) if config.link else None
    except EngineError as error:
        outbox.put(Fault(type(error).__name__, str(error)), droppable=False)
        return
    except Exception as error:  # a foreign error becomes the owner's one line
        outbox.put(Fault("EngineError", f"{type(error).__name__}: {error}"), droppable=False)
        return
    engine = Engine(config, ports, outbox, granted, commands, wake_r, inbox, link)
    signal.signal(signal.SIGTERM, engine.terminate)
    try:
        engine.run()
    finally:
        if link is not None:
            link.close()
        if ports.server_lost:
            abandon(ports, outbox)
        ports.close()
        outbox.close()


def abandon(ports: PortSet, outbox: Outbox) -> None:
    """The JACK server is gone: say so and exit at once. Closing an rtmidi JACK port whose server is
    dead blocks for a second (rtmidi waits for a process cycle that never comes), and touching it
    after libjack has cleaned up the dead client crashes; the process's end frees it all."""
    reason = getattr(ports.graph, "reason", "") or "it stopped"
    outbox.put(Fault("ServerLostError", f"the JACK server went away ({reason})"), droppable=False)
    outbox.close()
    os._exit(0)


class Engine:
    """The loop's state: scheduler, outputs, MIDI clock, statistics."""

    def __init__(
        self, config: EngineConfig, ports: PortSet, outbox: Outbox, granted: Granted,
        commands: Connection, wake: socket.socket, inbox: deque[tuple[float, list[int]]],
        link: LinkSync | None = None,
    ) -> None:
        self.config, self.ports, self.outbox, self.granted = config, ports, outbox, granted
        self.commands, self.wake, self.inbox = commands, wake, inbox
        self.scheduler = Scheduler([p.label for p in ports.notes], config.tempo, stale_after=config.stale_after)
        self.outputs = {p.label: mapped(p, config.drum_notes) for p in ports.notes}
        self.clock_out = ClockOut() if ports.clock else None
        self.follower = ClockFollower() if ports.follow else None
        self.stats = LatencyHistogram()
        self.events_sent = 0
        self.running = True
        self.telemetry_due = True
        now = clock()
        self.next_telemetry = now
        pollable = any(getattr(p, "pollable", False) for p in ports.all())
        self.next_poll = now + config.port_poll_interval if pollable else float("inf")
        self.handlers = {
            Schedule: lambda c, now: self.scheduler.schedule(c.events, now=now),
            ReplaceFrom: lambda c, now: self.scheduler.replace_from(c.track, c.tick, c.events, now=now),
            SetTempo: lambda c, now: self.scheduler.set_tempo(c.tick, c.bpm, now=now),
            SetTempoMap: lambda c, now: self.scheduler.set_tempo_map(c.tempo, now=now),
            Start: lambda c, now: self.send_now(self.scheduler.start(now, c.tick)),
            Stop: lambda c, now: self.send_now(self.scheduler.stop(now)),
            Jump: lambda c, now: self.send_now(self.scheduler.jump(c.at_tick, c.to_tick, now=now)),
            Panic: lambda c, now: self.send_now(self.scheduler.panic(now)),
            RequestTelemetry: lambda c, now: setattr(self, "telemetry_due", True),
            ResetStats: lambda c, now: self.reset_stats(),
            Shutdown: lambda c, now: setattr(self, "running", False),
        }
        self.link = link
        if link is not None:  # Link owns the song's tempo, launches and stops (engine/link.py)
            self.handlers.update({
                SetTempoMap: lambda c, now: link.tempo_map(self.scheduler, c.tempo, now),
                Start: lambda c, now: self.send_now(link.start(self.scheduler, now, c.tick)),
                Stop: lambda c, now: self.send_now(link.stop(self.scheduler, now)),
            })

    def terminate(self, signum: int, frame: object) -> None:
        """SIGTERM: leave the loop at the next turn and shut down cleanly."""
        self.running = False

    # --- the loop --------------------------------------------------------------------------------

    def run(self) -> None:
        # A crash of the previous run may have left notes hanging on these ports.
        self.send_now(self.scheduler.panic(clock()))
        if self.ports.notice:
            self.outbox.put(Notice(self.ports.notice, "warning"), droppable=False)
        gc.collect()
        gc.freeze()  # what exists now is never garbage: later collections skip it
        while self.running:
            self.play_due(clock())
            hard = self.next_hard_deadline()
            now = clock()
            if hard is not None and hard - now <= GUARD:
                if hard > now:
                    time.sleep(hard - now)
                continue
            if self.soft_work(now, hard):
                continue
            if hard is None:
                wake = self.next_soft()
            elif hard - now < SOFT_GAP:
                wake = hard - GUARD  # soft work waits until this deadline has been met
            else:
                wake = min(self.next_soft(), hard - GUARD)
            timeout = None if wake == float("inf") else max(0.0, wake - now)
            command, woken = self.wait(timeout)
            if woken:
                self.drain_wakeups()
            if command:
                self.handle_command()
        self.shutdown()

    def wait(self, timeout: float | None) -> tuple[bool, bool]:
        """Until a command or a wake-up arrives, or ``timeout``: (command waiting, woken)."""
        if WINDOWS:
            ready = wait_for([self.commands, self.wake], timeout)
            return self.commands in ready, self.wake in ready
        writable = [self.outbox.fd] if self.outbox.pending else []
        ready, can_write, _ = select.select([self.commands, self.wake], writable, [], timeout)
        if can_write:
            self.outbox.flush()
        return self.commands in ready, self.wake in ready

    def next_hard_deadline(self) -> float | None:
        due = self.scheduler.next_deadline()
        if self.clock_out is not None:
            pulse = self.clock_out.next_deadline(self.scheduler)
            if pulse is not None and (due is None or pulse < due):
                return pulse
        return due

    def play_due(self, now: float) -> None:
        """Send everything due: transport messages first, then pulses and events by deadline."""
        sends = self.scheduler.pop_due(now)
        if self.scheduler.notices:
            for change in self.scheduler.notices:
                self.on_transport(change)
            self.scheduler.notices.clear()
        pulses = self.clock_out.pop_due(self.scheduler, now) if self.clock_out is not None else []
        if not sends and not pulses:
            return
        i = 0
        for deadline, _tick in pulses:
            while i < len(sends) and sends[i].deadline < deadline:
                self.send_timed(sends[i])
                i += 1
            self.send_clock(deadline)
        for send in sends[i:]:
            self.send_timed(send)
        for output in self.outputs.values():
            output.flush()

    def send_timed(self, send: Send) -> None:
        output = self.outputs[send.port]
        sent_at = clock()
        output.send(send.message, send.tick, send.track)
        self.stats.add(sent_at - send.deadline)
        self.events_sent += 1

    def send_clock(self, deadline: float) -> None:
        for output in self.ports.clock:
            sent_at = clock()
            output.send((CLOCK,))
            self.stats.add(sent_at - deadline)
            self.events_sent += 1

    def send_now(self, sends: list[Send]) -> None:
        """Sends that are answers to a command (stop, panic...): at once, outside the lateness figures."""
        for send in sends:
            self.outputs[send.port].send(send.message, send.tick, send.track)
        self.events_sent += len(sends)
        for output in self.outputs.values():
            output.flush()

    def on_transport(self, change: Transport) -> None:
        if change.kind == "jump" and self.follower is not None:
            self.follower.rebase(change.tick - change.from_tick)
        for output in self.outputs.values():
            output.transport(change.kind, change.tick)
        if self.clock_out is not None:
            for message in self.clock_out.on_transport(change):
                for output in self.ports.clock:
                    output.send(message)
                    self.events_sent += 1
        self.telemetry_due = True

    # --- commands, wake-ups, soft work -----------------------------------------------------------

    def handle_command(self) -> None:
        """One command per turn, so a burst of commands cannot hold back a deadline."""
        try:
            command = self.commands.recv()
        except (EOFError, OSError):
            self.running = False  # the owner is gone: end what sounds and exit
            return
        except Exception as error:  # an unreadable frame: report it, keep playing
            self.outbox.put(Notice(f"unreadable command ignored: {error}", "warning"), droppable=False)
            return
        handler = self.handlers.get(type(command))
        if handler is None:
            self.outbox.put(Notice(f"unknown command ignored: {command!r:.80}", "warning"), droppable=False)
            return
        try:
            handler(command, clock())
        except EngineError as error:
            self.outbox.put(Notice(f"{type(command).__name__} ignored: {error}", "warning"), droppable=False)

    def drain_wakeups(self) -> None:
        try:
            while self.wake.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while self.inbox:
            stamp, message = self.inbox.popleft()
            if self.follower is not None:
                for action in self.follower.feed(message, stamp):
                    self.follow(action)
        if self.ports.server_lost and self.running:
            self.outbox.put(Notice("the JACK server went away: every port is down", "error"), droppable=False)
            self.running = False  # main() then abandons the ports: they cannot be closed

    def follow(self, action: Follow) -> None:
        if action.kind == "start":
            self.send_now(self.scheduler.start(action.time, action.tick))
        elif action.kind == "stop":
            self.send_now(self.scheduler.stop(action.time))
        elif action.kind == "sync":
            self.scheduler.set_tempo_map(TempoMap.constant(action.bpm), now=action.time)
            self.scheduler.sync(action.time, action.tick)

    def next_soft(self) -> float:
        """When soft work is next due (0 if telemetry was asked for; inf if there is none)."""
        if self.telemetry_due:
            return 0.0
        soft = min(self.next_poll, self.next_telemetry) if self.scheduler.playing else self.next_poll
        return soft if self.link is None else min(soft, self.link.next_sync)

    def soft_work(self, now: float, hard: float | None) -> bool:
        """Telemetry and port polls, in gaps (or when badly overdue); True if any ran."""
        roomy = hard is None or hard - now >= SOFT_GAP
        link = self.link
        if link is not None and now >= link.next_sync and (roomy or now >= link.next_sync + LINK_FORCE):
            try:
                sends = link.sync(self.scheduler, now)
            except EngineError as error:  # the session asked for something impossible: say so, play on
                link.next_sync = now + 1.0
                self.outbox.put(Notice(f"Link sync skipped: {error}", "warning"), droppable=False)
                return True
            if sends:
                self.send_now(sends)
            return True
        interval = self.config.port_poll_interval
        if now >= self.next_poll and (roomy or now >= self.next_poll + POLL_FORCE - interval):
            self.poll_ports()
            self.next_poll = now + (SETTLE if self.ports.settling else interval)
            return True
        telemetry_due = self.telemetry_due or (self.scheduler.playing and now >= self.next_telemetry)
        if telemetry_due and (roomy or now >= self.next_telemetry + TELEMETRY_FORCE):
            self.outbox.put(self.telemetry(now))
            self.telemetry_due = False
            self.next_telemetry = now + self.config.telemetry_interval
            return True
        return False

    def poll_ports(self) -> None:
        """A port that is up again, or a listener that is back, gets a panic before the next note:
        it may hold notes whose note-offs it never heard."""
        for port in self.ports.all():
            change = port.poll()
            if change is None:
                continue
            if change != "down" and port.label in self.outputs:
                self.send_now(self.scheduler.panic(clock(), port.label))
            level = "warning" if change == "down" else "info"
            self.outbox.put(Notice(f"port {port.name} ({port.role}) is {change}", level), droppable=False)
            self.telemetry_due = True

    def telemetry(self, now: float) -> Telemetry:
        s, stats = self.scheduler, self.stats
        tick = round(s.playhead(now))
        anchor_time, anchor_tick = s.anchor
        return Telemetry(
            time=now, state="playing" if s.playing else "stopped", tick=tick, bpm=s.tempo.bpm_at(tick),
            anchor_time=anchor_time, anchor_tick=anchor_tick,
            p50_ms=stats.percentile(0.5) * 1e3, p99_ms=stats.percentile(0.99) * 1e3, max_ms=stats.max * 1e3,
            early_count=stats.early_count, early_max_ms=stats.early_max * 1e3, samples=stats.count,
            events_sent=self.events_sent, dropped_stale=s.dropped_stale,
            ports=tuple(p.status() for p in self.ports.all()), api=self.ports.api,
            priority=self.granted.priority, timer_slack_ns=self.granted.timer_slack_ns,
            clock="link" if self.link else "follow" if self.follower is not None else "internal", pid=os.getpid(),
            link=self.link.status() if self.link is not None else None,
        )

    def reset_stats(self) -> None:
        self.stats.reset()
        self.events_sent = 0
        self.scheduler.dropped_stale = 0

    def shutdown(self) -> None:
        """Stop: every sounding note ends, clock receivers hear Stop, then a panic on every port (so
        a shutdown leaves nothing on for sure, even when a process-group SIGTERM reaches the engine
        before its owner's own panic); a last telemetry for the owner."""
        now = clock()
        self.send_now(self.scheduler.stop(now))
        for change in self.scheduler.notices:
            self.on_transport(change)
        self.scheduler.notices.clear()
        self.send_now(self.scheduler.panic(now))
        for output in self.outputs.values():
            output.flush()
        self.outbox.put(self.telemetry(clock()), droppable=False)
