"""``backbeat doctor``: is this machine ready to play? One check a line, each with its fix.

Every check is a function returning ``Check`` values and never raises: whatever it meets (a missing
library, a broken table, a daemon that hangs up) becomes a failed line that says what to do. The
order is the order a producer would fix things in: the install, MIDI, the daemon, the files, the
model server. ``fail`` is for what stops backbeat from doing its job; ``warn`` for what works with a
caveat (no daemon running is not a fault: ``play`` starts one).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

Status = Literal["ok", "warn", "fail", "skip"]

PACKAGES = ("python-rtmidi", "mido", "trio", "pydantic", "pydantic-settings", "httpx", "msgpack", "textual", "platformdirs")
"""The runtime dependencies whose versions a bug report needs."""


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f" — fix: {self.fix}" if self.fix and self.status in ("warn", "fail") else ""
        return f"{self.status.upper():<4}  {self.name}: {self.detail}{fix}"


def _guarded(check: Callable[[], Iterator[Check]], name: str) -> list[Check]:
    try:
        return list(check())
    except Exception as error:  # a check that breaks is a failed check, never a traceback
        text = str(error).strip().splitlines()
        return [Check(name, "fail", f"the check itself failed: {text[0] if text else type(error).__name__}",
                      "run `backbeat --debug doctor` and report it")]


# --- the install --------------------------------------------------------------------------------------


def python_and_packages() -> Iterator[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 11):
        yield Check("python", "fail", f"Python {version} at {sys.executable}", "backbeat needs Python 3.11 or newer")
    else:
        yield Check("python", "ok", f"Python {version} at {sys.executable}")
    found, missing = [], []
    for name in ("backbeat", *PACKAGES):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        yield Check("packages", "fail", f"missing: {', '.join(missing)}", "reinstall backbeat (pipx install . / make run)")
    else:
        yield Check("packages", "ok", ", ".join(found))


# --- MIDI ---------------------------------------------------------------------------------------------


def midi() -> Iterator[Check]:
    from backbeat.engine.ports import DISPLAY, LOOPMIDI_HINT, list_ports, platform_apis, probe

    usable = []
    for status in (probe(name) for name in platform_apis()):
        title = DISPLAY[status.name]
        if not status.usable:
            yield Check(f"midi {title}", "warn", "not usable", status.detail)
            continue
        usable.append(status.name)
        outputs, inputs = list_ports(status.name)
        yield Check(f"midi {title}", "ok", f"usable; {len(outputs)} output(s), {len(inputs)} input(s)"
                    + (f": {', '.join(outputs[:6])}" if outputs else ""))
        if status.name == "winmm":
            loop = [name for name in outputs if "loopmidi" in name.lower()]
            yield (Check("loopMIDI", "ok", f"port {loop[0]!r} (play into it with --port)") if loop
                   else Check("loopMIDI", "fail", "no loopMIDI port", LOOPMIDI_HINT))
        else:
            yield _virtual_port(status.name, title)
    if not usable:
        yield Check("midi", "fail", "no MIDI system is usable: backbeat can only print notes in the terminal",
                    "on Linux load the ALSA sequencer (sudo modprobe snd-seq) or start a JACK server")


def _virtual_port(api: str, title: str) -> Check:
    import rtmidi

    from backbeat.engine.ports import APIS, quiet_stderr

    try:
        with quiet_stderr():
            out = rtmidi.MidiOut(APIS[api], name="backbeat-doctor")
            out.open_virtual_port("probe")
        out.close_port()
        out.delete()
    except (rtmidi.RtMidiError, NotImplementedError) as error:
        return Check(f"virtual port {title}", "fail", f"cannot create one: {error}", "use --port NAME to play into an existing port")
    return Check(f"virtual port {title}", "ok", "backbeat can create backbeat:out here")


# --- the daemon ---------------------------------------------------------------------------------------


def socket_folder() -> Iterator[Check]:
    from backbeat.daemon.address import default_socket, use_tcp

    path = default_socket()
    folder = path.parent
    if use_tcp():
        yield Check("socket", "ok", f"loopback TCP, token file {path.with_suffix('.token')}")
        return
    if not folder.exists():
        yield Check("socket folder", "ok", f"{folder} (created with mode 0700 when the daemon starts)")
        return
    info = folder.lstat()
    mode = info.st_mode & 0o777
    problems = []
    if folder.is_symlink():
        problems.append("is a symbolic link")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        problems.append(f"belongs to uid {info.st_uid}, not you")
    if mode & 0o077:
        problems.append(f"has mode {mode:04o} (others can reach the socket)")
    if problems:
        yield Check("socket folder", "fail", f"{folder} " + " and ".join(problems),
                    f"remove it (rm -r {folder}) or set BACKBEAT_SOCKET to a path in a folder only you can open")
    else:
        yield Check("socket folder", "ok", f"{folder} (mode {mode:04o}, yours)")


def daemon() -> Iterator[Check]:
    from backbeat.daemon.client import DaemonClient
    from backbeat.daemon.errors import DaemonError, NotRunningError

    try:
        with DaemonClient(timeout=3.0) as client:
            status = client.request("status")
    except NotRunningError:
        yield Check("daemon", "warn", "not running", "start it with `backbeat daemon` (or `backbeat service install`)")
        return
    except DaemonError as error:
        yield Check("daemon", "fail", f"answers, but not as expected: {error}", "restart it: backbeat shutdown; backbeat daemon")
        return
    engine = status.get("engine", {})
    lat = engine.get("lateness_ms", {})
    if not engine.get("alive"):
        yield Check("daemon", "fail", f"running (version {client.version}) but its engine is not", "see the daemon's log; restart it")
        return
    detail = (f"running (version {client.version}, {engine.get('api')}); engine lateness p50 {lat.get('p50', 0):.2f} ms, "
              f"p99 {lat.get('p99', 0):.2f} ms, max {lat.get('max', 0):.2f} ms; priority {engine.get('priority')}")
    late = lat.get("p99", 0) > 5.0
    yield Check("daemon", "warn" if late else "ok", detail,
                "the engine is late: close CPU-heavy programs, or allow real-time priority (rtprio in limits.conf)" if late else "")


# --- files --------------------------------------------------------------------------------------------


def config_tables() -> Iterator[Check]:
    from backbeat.generators.errors import ConfigError
    from backbeat.generators.settings import CONFIG_DIR, USER_CONFIG_DIR
    from backbeat.generators.tables import tables

    try:
        t = tables()
    except ConfigError as error:
        yield Check("config tables", "fail", str(error), f"fix or remove the file named (your replacements live in {USER_CONFIG_DIR})")
        return
    replaced = sorted(p.name for p in USER_CONFIG_DIR.glob("*.toml")) if USER_CONFIG_DIR.is_dir() else []
    shipped = sorted(p.name for p in CONFIG_DIR.glob("*.toml"))
    detail = (f"{len(shipped)} files valid ({len(t.intent.genres)} genres, {len(t.intent.artists)} artists) from {CONFIG_DIR}"
              + (f"; yours: {', '.join(replaced)}" if replaced else ""))
    yield Check("config tables", "ok", detail)


def output_folder() -> Iterator[Check]:
    from backbeat.generators.settings import settings

    folder = Path(settings().output_dir).expanduser().resolve()
    existing = next(p for p in (folder, *folder.parents) if p.exists())  # doctor creates nothing
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is a file")
        if existing == folder:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
                pass
        elif not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot create folders in {existing}")
    except OSError as error:
        yield Check("output folder", "fail", f"{folder} is not writable ({error.strerror or error})",
                    "set OUTPUT_DIR (or output_dir in settings.toml) to a folder you can write")
        return
    yield Check("output folder", "ok", f"{folder} is writable" + ("" if existing == folder else " (created by the first song)"))


# --- the model server ---------------------------------------------------------------------------------


def model_server() -> Iterator[Check]:
    import httpx

    from backbeat.generators.llm import DEFAULT_BASE_URL
    from backbeat.generators.settings import settings

    s = settings()
    if s.llm_api_key is None and not s.llm_base_url:
        yield Check("model server", "skip", "none configured: the algorithmic generators compose offline")
        return
    base = (s.llm_base_url or DEFAULT_BASE_URL).rstrip("/")
    headers = {"Authorization": f"Bearer {s.llm_api_key.get_secret_value()}"} if s.llm_api_key else {}
    started = time.perf_counter()
    try:
        response = httpx.get(f"{base}/models", headers=headers, timeout=5.0)
    except httpx.HTTPError as error:
        yield Check("model server", "fail", f"{base} does not answer ({type(error).__name__}: {error})",
                    "start the server, or fix LLM_BASE_URL; --offline composes without it")
        return
    ms = (time.perf_counter() - started) * 1000
    if response.status_code in (401, 403):
        yield Check("model server", "fail", f"{base} refuses the key (HTTP {response.status_code})", "check LLM_API_KEY")
    elif response.status_code >= 400:
        yield Check("model server", "warn", f"{base}/models answered HTTP {response.status_code} in {ms:.0f} ms",
                    "the server may still take chat requests; try `backbeat generate` and read its lines")
    else:
        yield Check("model server", "ok", f"{base} answers in {ms:.0f} ms; model {s.llm_model}")
    yield _structured_output(s)


def _structured_output(s) -> Check:
    """Which structured-output form the server takes (remembered from an earlier run, or negotiated
    now with one small request)."""
    from functools import partial

    import trio

    from backbeat.generators.llm import structured_output_form

    report = trio.run(partial(structured_output_form, s, timeout_s=20.0))
    if report.error:
        return Check("structured output", "warn", report.line(), "the stages fall back to the algorithmic backend where the model cannot answer")
    return Check("structured output", "ok", report.line())


CHECKS: tuple[tuple[str, Callable[[], Iterator[Check]]], ...] = (
    ("python", python_and_packages),
    ("midi", midi),
    ("socket folder", socket_folder),
    ("daemon", daemon),
    ("config tables", config_tables),
    ("output folder", output_folder),
    ("model server", model_server),
)
"""Every check, in the order a producer would fix things."""


def run() -> list[Check]:
    return [c for name, check in CHECKS for c in _guarded(check, name)]


def as_json(checks: list[Check]) -> list[dict[str, str]]:
    return [asdict(c) for c in checks]


def healthy(checks: list[Check]) -> bool:
    return not any(c.status == "fail" for c in checks)
