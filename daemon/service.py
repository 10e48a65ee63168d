"""``backbeat service install|uninstall``: the daemon as a per-user background service.

    linux   a systemd user unit, ~/.config/systemd/user/backbeat.service; backbeat runs
            ``systemctl --user daemon-reload`` and ``enable --now`` itself when it can, else prints them
    darwin  a launchd agent, ~/Library/LaunchAgents/dev.backbeat.daemon.plist, and the
            ``launchctl bootstrap`` line to load it
    win32   nothing written: the Task Scheduler (schtasks) steps and loopMIDI, printed

A plan is pure — the platform, home folder, daemon command line and music folder are passed in — so
every platform's files are built and tested anywhere; ``apply`` carries a plan out (or only prints it).
Stopping is the daemon's own SIGTERM path (note-offs, panic, session saved, exit within 2 s): the
unit sends SIGTERM to the daemon alone (``KillMode=mixed``) so the engine process is stopped by the
daemon, after the panic, rather than by systemd at the same moment.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from backbeat.generators.errors import SessionError
from backbeat.generators.files import atomic_write

from .errors import DaemonError

UNIT = "backbeat.service"
LABEL = "dev.backbeat.daemon"
TASK = "backbeat"
LOOPMIDI_URL = "https://www.tobias-erichsen.de/software/loopmidi.html"


class ServiceError(DaemonError, OSError):
    """A service file could not be written or removed."""


# --- plans ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Write:
    path: Path
    content: str


@dataclass(frozen=True, slots=True)
class Remove:
    path: Path


@dataclass(frozen=True, slots=True)
class Run:
    """A command backbeat runs itself when the service manager is reachable, else prints."""

    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Say:
    text: str


Step = Write | Remove | Run | Say


@dataclass(frozen=True, slots=True)
class Context:
    """Everything about the machine a plan depends on."""

    platform: str
    """``linux``, ``darwin`` or ``win32`` (sys.platform)."""
    home: Path
    command: tuple[str, ...]
    """The daemon's command line: the absolute ``backbeat`` executable, ``daemon``, options."""
    output_dir: Path
    """OUTPUT_DIR for the service: where its session folders go."""
    uid: int = 0
    config_home: Path | None = None
    """XDG_CONFIG_HOME when set (systemd reads user units from there)."""


def service_file(ctx: Context) -> Path | None:
    """The file install writes on ``ctx.platform`` (None on Windows: nothing is written)."""
    return {"linux": unit_path, "darwin": agent_path}.get(_platform(ctx), lambda _: None)(ctx)


def unit_path(ctx: Context) -> Path:
    return (ctx.config_home or ctx.home / ".config") / "systemd" / "user" / UNIT


def agent_path(ctx: Context) -> Path:
    return ctx.home / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def log_path(ctx: Context) -> Path:
    return ctx.home / "Library" / "Logs" / "backbeat.log"


# --- Linux: systemd -----------------------------------------------------------------------------------


def _systemd_word(word: str, *, exec_line: bool) -> str:
    """One word for a unit file: ``%`` is a specifier and ``$`` (in ExecStart) a variable, so double them;
    quote words with spaces, quotes or backslashes."""
    word = word.replace("%", "%%")
    if exec_line:
        word = word.replace("$", "$$")
    if any(c in word for c in ' \t"\\\''):
        word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def systemd_unit(ctx: Context) -> str:
    exec_start = " ".join(_systemd_word(w, exec_line=True) for w in ctx.command)
    environment = _systemd_word(f"OUTPUT_DIR={ctx.output_dir}", exec_line=False)
    return "\n".join([
        "# backbeat, the live MIDI performance daemon, as a systemd user service.",
        "# Written by `backbeat service install`; `backbeat service uninstall` removes it.",
        "# Logs: journalctl --user -u backbeat -f",
        "",
        "[Unit]",
        "Description=backbeat live MIDI performance daemon",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={exec_start}",
        f"Environment={environment}",
        "Restart=on-failure",
        "RestartSec=2",
        "# SIGTERM to the daemon only: it ends every note, panics, saves the session and stops its engine",
        "# process itself within 2 s; whatever is left after TimeoutStopSec is killed.",
        "KillSignal=SIGTERM",
        "KillMode=mixed",
        "TimeoutStopSec=5",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])


def _systemctl(*args: str) -> Run:
    return Run(("systemctl", "--user", *args))


def _linux_install(ctx: Context) -> list[Step]:
    return [
        Write(unit_path(ctx), systemd_unit(ctx)),
        _systemctl("daemon-reload"),
        _systemctl("enable", "--now", "backbeat"),
        Say(f"backbeat runs at login from now on; its session folders go to {ctx.output_dir}"),
        Say("logs: journalctl --user -u backbeat -f    status: backbeat status    (a daemon you started by hand must be shut down first: backbeat shutdown)"),
    ]


def _linux_uninstall(ctx: Context) -> list[Step]:
    return [_systemctl("disable", "--now", "backbeat"), Remove(unit_path(ctx)), _systemctl("daemon-reload")]


# --- macOS: launchd -----------------------------------------------------------------------------------


def launchd_plist(ctx: Context) -> str:
    agent = {
        "Label": LABEL,
        "ProgramArguments": list(ctx.command),
        "EnvironmentVariables": {"OUTPUT_DIR": str(ctx.output_dir)},
        "RunAtLoad": True,
        # Restart after a crash, not after `backbeat shutdown` (a clean exit): systemd's on-failure.
        "KeepAlive": {"SuccessfulExit": False},
        # Interactive: launchd does not throttle the daemon's CPU or timers (the engine keeps time).
        "ProcessType": "Interactive",
        "ExitTimeOut": 5,
        "StandardOutPath": str(log_path(ctx)),
        "StandardErrorPath": str(log_path(ctx)),
    }
    return plistlib.dumps(agent, sort_keys=False).decode("utf-8")


def _darwin_install(ctx: Context) -> list[Step]:
    path = agent_path(ctx)
    return [
        Write(path, launchd_plist(ctx)),
        Say("load it now (it also loads at every login):"),
        Say(f"  launchctl bootstrap gui/{ctx.uid} {path}"),
        Say(f"logs: {log_path(ctx)}    status: backbeat status    session folders: {ctx.output_dir}"),
    ]


def _darwin_uninstall(ctx: Context) -> list[Step]:
    return [
        Remove(agent_path(ctx)),
        Say("stop the running agent (if it is loaded):"),
        Say(f"  launchctl bootout gui/{ctx.uid}/{LABEL}"),
    ]


# --- Windows: Task Scheduler ----------------------------------------------------------------------------


def _windows_command(command: tuple[str, ...]) -> str:
    return " ".join(f'\\"{w}\\"' if " " in w else w for w in command)


def _windows_install(ctx: Context) -> list[Step]:
    command = (*ctx.command, "--port", "loopMIDI")
    return [Say(line) for line in (
        "Windows: backbeat writes nothing; Task Scheduler starts the daemon at log-on. In a Command Prompt:",
        "",
        f"1. Install loopMIDI ({LOOPMIDI_URL}) and create a port in it: Windows cannot create",
        "   virtual MIDI ports, so backbeat plays into loopMIDI's port and MPC Beats listens to it.",
        "2. Where session folders go:",
        f'     setx OUTPUT_DIR "{ctx.output_dir}"',
        "3. Create the task (runs at every log-on, as you, without admin rights):",
        f'     schtasks /Create /TN {TASK} /SC ONLOGON /RL LIMITED /F /TR "{_windows_command(command)}"',
        "4. Start it now:",
        f"     schtasks /Run /TN {TASK}",
        "",
        "Then `backbeat status` shows what it plays.",
    )]


def _windows_uninstall(ctx: Context) -> list[Step]:
    return [Say(line) for line in (
        "Windows: backbeat wrote nothing; remove the scheduled task in a Command Prompt:",
        f"     schtasks /End /TN {TASK}",
        f"     schtasks /Delete /TN {TASK} /F",
    )]


PLANS: dict[str, dict[str, Callable[[Context], list[Step]]]] = {
    "linux": {"install": _linux_install, "uninstall": _linux_uninstall},
    "darwin": {"install": _darwin_install, "uninstall": _darwin_uninstall},
    "win32": {"install": _windows_install, "uninstall": _windows_uninstall},
}
"""Per platform, what install and uninstall do."""


def plan(action: str, ctx: Context) -> list[Step]:
    """The steps of ``install`` or ``uninstall`` on ``ctx.platform``.

    Raises:
        ServiceError: a platform backbeat has no service for.
    """
    platform = _platform(ctx)
    if platform is None:
        raise ServiceError(f"no background service for platform {ctx.platform!r}: run `backbeat daemon` yourself")
    return PLANS[platform][action](ctx)


def _platform(ctx: Context) -> str | None:
    return next((p for p in PLANS if ctx.platform.startswith(p)), None)


# --- this machine ----------------------------------------------------------------------------------------


def backbeat_command() -> tuple[str, ...]:
    """The absolute path of the ``backbeat`` executable running now (or ``python -m backbeat``)."""
    argv0 = Path(sys.argv[0])
    if argv0.stem == "backbeat" and argv0.is_file():
        return (str(argv0.absolute()),)
    beside_python = shutil.which("backbeat", path=str(Path(sys.executable).parent))
    if beside_python:
        return (str(Path(beside_python).absolute()),)
    return (sys.executable, "-m", "backbeat")


def current_context(daemon_args: tuple[str, ...] = ()) -> Context:
    """This machine, for a daemon started with ``daemon_args`` (e.g. ``--controller generic-pads``)."""
    config_home = os.environ.get("XDG_CONFIG_HOME")
    return Context(
        platform=sys.platform,
        home=Path.home(),
        command=(*backbeat_command(), "daemon", *daemon_args),
        output_dir=Path(platformdirs.user_music_dir()) / "backbeat",
        uid=os.getuid() if hasattr(os, "getuid") else 0,
        config_home=Path(config_home) if config_home else None,
    )


def user_bus_reachable() -> bool:
    """Whether ``systemctl --user`` can talk to a user manager (a login session, not a bare container)."""
    if shutil.which("systemctl") is None:
        return False
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")) or bool(runtime and Path(runtime, "bus").exists())


# --- carrying a plan out ------------------------------------------------------------------------------------


def _write(step: Write, say: Callable[[str], None]) -> None:
    try:
        step.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(step.path, step.content.encode("utf-8"))
    except (SessionError, OSError) as e:
        raise ServiceError(f"cannot write {step.path}: {e}") from None
    say(f"wrote {step.path}")


def _remove(step: Remove, say: Callable[[str], None]) -> None:
    try:
        step.path.unlink()
    except FileNotFoundError:
        say(f"{step.path} was already gone")
        return
    except OSError as e:
        raise ServiceError(f"cannot remove {step.path}: {e.strerror or e}") from None
    say(f"removed {step.path}")


_DESCRIBE: dict[type, Callable[[Step], str]] = {
    Write: lambda s: f"would write {s.path}:\n{s.content}",
    Remove: lambda s: f"would remove {s.path}",
    Run: lambda s: f"would run: {' '.join(s.argv)}",
    Say: lambda s: s.text,
}


class _Commands:
    """Runs the plan's commands in order; once one cannot run (or fails), the rest are printed for the user."""

    def __init__(self, say: Callable[[str], None], runnable: bool) -> None:
        self.say, self.runnable = say, runnable
        self.left: list[Run] = []

    def run(self, step: Run) -> None:
        if not (self.runnable and not self.left and _run(step, self.say)):
            self.left.append(step)

    def report(self) -> None:
        if not self.left:
            return
        self.say("run these yourself:" if self.runnable else "no user service manager is reachable from here; run these in your login session:")
        for step in self.left:
            self.say("  " + " ".join(step.argv))
        self.say("until they have run, nothing is done: the files are in place, the service is not")


def apply(
    steps: list[Step], *, dry_run: bool, say: Callable[[str], None] = print, can_run: Callable[[], bool] = user_bus_reachable,
) -> None:
    """Carry ``steps`` out, or with ``dry_run`` only print them. A command that cannot run, or fails,
    is printed for the user to run; only a file that cannot be written or removed raises ServiceError."""
    if dry_run:
        for step in steps:
            say(_DESCRIBE[type(step)](step))
        return
    commands = _Commands(say, any(isinstance(s, Run) for s in steps) and can_run())
    do: dict[type, Callable[[Step], None]] = {
        Write: lambda s: _write(s, say), Remove: lambda s: _remove(s, say), Run: commands.run,
        # what a plan says after its commands reports their effect: never said when they did not run
        Say: lambda s: None if commands.left else say(s.text),
    }
    for step in steps:
        do[type(step)](step)
    commands.report()


def _run(step: Run, say: Callable[[str], None]) -> bool:
    try:
        done = subprocess.run(step.argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        say(f"{' '.join(step.argv)}: {e}")
        return False
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        say(f"{' '.join(step.argv)} failed: {why[0] if why else f'exit code {done.returncode}'}")
        return False
    say(f"ran: {' '.join(step.argv)}")
    return True
