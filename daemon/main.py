"""The daemon's one nursery: every task it runs, started in order, each reporting readiness.

    player      the engine process, the timeline and the feed loop (playback)
    live        the live song: its one owner (every change, the session folder, its history),
                and its background work: pipeline jobs (``composer``), saves, alternatives
    controller  MIDI controller input (when a controller map is configured)
    server      the socket: clients, requests, events
    signals     SIGINT/SIGTERM: stop, panic, save, exit within 2 s

``shutdown`` (the command or a signal) stops playback (note-offs), panics, saves the session, and
cancels the nursery.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import trio

from backbeat.engine.commands import EngineConfig
from backbeat.generators.errors import first_error
from backbeat.generators.settings import Settings

from . import server
from .bus import Bus, Subscriber
from .commands import Commands
from .composer import Composer
from .address import use_tcp
from .errors import AlreadyRunningError, DaemonError, UnavailableError
from .player import Player
from .protocol import GenerateArgs
from .song import LiveSong
from .state import Memory

log = logging.getLogger(__name__)


def package_version() -> str:
    """The installed package's version (the greeting's ``version``)."""
    try:
        return version("backbeat")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    socket: Path
    engine: EngineConfig
    settings: Settings
    memory: Memory
    controller: str | None = None
    """Controller map name (config/controllers/NAME.toml), or None for no controller input."""
    resume_last: bool = True
    generate: GenerateArgs | None = None
    """A song to compose (and play) as soon as the daemon is up: ``backbeat play PROMPT``."""
    echo: bool = False
    """Print pipeline progress and log lines to stderr (a daemon in the foreground of a terminal)."""
    version: str = field(default_factory=package_version)
    """What the greeting tells clients."""



async def _signals(shutdown: trio.Event, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            shutdown.set()


async def run(options: DaemonOptions, *, task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED) -> str | None:
    """Run the daemon until ``shutdown``; ``task_status`` gets the socket path once clients can connect.
    Returns None, or — for a daemon started for one song (``generate``) — the line saying that song
    could not be composed: then it ends by itself.

    Raises:
        DaemonError: it cannot start — ``AlreadyRunningError`` when another daemon answers on the
            socket (checked before anything starts), or the runtime folder is not the user's alone:
            the one error, not the task group around it, so it is one line.
    """
    await refuse_if_running(options.socket)
    try:
        return await _run(options, task_status=task_status)
    except BaseExceptionGroup as group:
        if isinstance(error := first_error(group), DaemonError):
            raise error from None
        raise


async def _run(options: DaemonOptions, *, task_status: trio.TaskStatus[Path]) -> str | None:
    bus = Bus()
    shutdown = trio.Event()
    player = Player(options.engine, bus, horizon_s=options.settings.playback.commit_horizon_ms / 1000)
    live = LiveSong(player, bus, options.settings, options.memory)
    composer = Composer(live, bus, options.settings)
    commands = Commands(player, live, composer, bus, options.settings, shutdown)
    failure: list[str] = []
    if options.generate is not None:
        def failed(line: str) -> None:
            failure.append(line)
            shutdown.set()

        composer.on_failure = failed
    async with trio.open_nursery() as nursery:
        await nursery.start(player.run)
        await nursery.start(live.run)
        if options.controller is not None:
            from .controller import run_controller  # rtmidi input: only when a map is configured

            await nursery.start(run_controller, options.controller, commands, player, bus)
        path = await nursery.start(server.serve, options.socket, commands.reply, bus, options.version, options.settings.server)
        await nursery.start(_signals, shutdown)
        last_session = f"composing {options.generate.prompt!r}" if options.generate is not None else "no session loaded"
        if options.resume_last and (last := options.memory.last_session()) is not None:
            try:
                await live.load(last)
                last_session = f"session {last} loaded (this socket's last, remembered in {options.memory.path})"
                bus.log("info", f"loaded the last session {last}")
            except Exception as e:  # a broken last session must not stop the daemon
                commands.last_session_error = f"could not load the last session {last}: {e}"
                bus.log("warning", commands.last_session_error)  # kept for clients that subscribe later
        if options.echo:
            print(ready_line(path, player, commands.last_session_error or last_session), file=sys.stderr, flush=True)
            nursery.start_soon(_echo, bus.subscribe(["pipeline", "log", "swap"]))
        task_status.started(path)
        if options.generate is not None:
            g = options.generate
            composer.generate(g.prompt, seed=g.seed, bars=g.bars, play=g.play, loop=g.loop)
        await shutdown.wait()
        with trio.move_on_after(1.5) as scope:
            scope.shield = True
            await _stop_everything(player, live)
        nursery.cancel_scope.cancel()
    return failure[0] if failure else None


async def refuse_if_running(path: Path) -> None:
    """Raise the one line a second daemon owes its user when a daemon answers on ``path``: which
    socket, which process, and the ways out.

    Raises:
        AlreadyRunningError: a daemon answers there.
    """
    if use_tcp():
        return  # the TCP listener takes a free port; the token file names the daemon that wrote it last
    try:
        stream = await trio.open_unix_socket(str(path))
    except OSError:
        return
    pid = peer_pid(stream.socket)
    await stream.aclose()
    raise AlreadyRunningError(
        f"a backbeat daemon is already running on {path}" + (f" (pid {pid})" if pid else "")
        + "; stop it with backbeat shutdown, or give this one another --socket")


def peer_pid(sock: trio.socket.SocketType) -> int | None:
    """The process at the other end of a Unix socket (Linux ``SO_PEERCRED``, macOS ``LOCAL_PEERPID``);
    None where the system does not say."""
    import socket
    import struct

    try:
        if hasattr(socket, "SO_PEERCRED"):
            pid, _, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            return pid or None
        if hasattr(socket, "LOCAL_PEERPID"):
            return int(sock.getsockopt(0, socket.LOCAL_PEERPID)) or None  # SOL_LOCAL is 0
    except OSError:
        pass
    return None


def ready_line(path: Path, player: Player, session: str | None) -> str:
    """The one line ``backbeat daemon`` prints once clients can connect: the socket, the MIDI
    system and its ports, what keeps time (its own clock, MIDI clock, Ableton Link), and the
    session (loaded and from where, or why not)."""
    engine, ports = player.engine_status()
    if engine.alive:
        outputs = ", ".join(f"{p.name} ({p.role})" for p in ports) or "no port"
        how = f"engine on {engine.api} ({outputs}); clock: {_clock(engine, ports)}"
    else:
        how = f"NO ENGINE: {engine.error} (being started again)"
    return f"backbeat: daemon ready on {path}; {how}" + (f"; {session}" if session else "")


def _clock(engine, ports) -> str:
    """What keeps time, in words: Link, a followed MIDI clock, MIDI clock sent, or the engine alone."""
    said = []
    if engine.link is not None:
        said.append(f"Ableton Link ({engine.link.peers} peer{'s' if engine.link.peers != 1 else ''})")
    if following := [p.name for p in ports if p.role == "follow"]:
        said.append(f"following MIDI clock from {', '.join(following)}")
    if sending := [p.name for p in ports if "clock" in p.role]:
        said.append(f"sending MIDI clock to {', '.join(sending)}")
    return ", ".join(said) or "its own (no Link, no MIDI clock)"


async def _echo(sub: Subscriber) -> None:
    marks = {"start": "→", "done": "✓", "retry": "↻", "failed": "✗"}
    async for frame in sub.receive:
        data = frame["data"]
        if frame["event"] == "pipeline":
            if data["status"] != "start":
                print(f"{marks[data['status']]} Stage {data['index']}: {data['message']}", file=sys.stderr, flush=True)
        elif frame["event"] == "swap":
            if data["landed"]:
                print(f"backbeat: bar {data['at_bar']}: {data['kind']} {data['detail']}", file=sys.stderr, flush=True)
        else:
            print(f"backbeat: {data['message']}", file=sys.stderr, flush=True)


async def _stop_everything(player: Player, live: LiveSong) -> None:
    player.closing = True
    if player.engine is not None and player.engine.alive:
        player.stop()
        with contextlib.suppress(UnavailableError):  # an engine already gone panicked on its way out
            player.panic()
    await live.save()
