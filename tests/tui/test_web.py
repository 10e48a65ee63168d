"""The web page (``backbeat tui --web``) driven in headless Chromium against a real daemon: load it,
type a prompt without clicking, see the song's name and the playhead move, close the tab and see its
TUI process gone; a TUI whose web server dies, or that gets SIGTERM, ends too.

The page's terminal draws on a canvas, so the test reads what the browser received instead: a
script added before the page loads keeps the text of every websocket frame (the app's output,
escape codes stripped). Chromium resolves nothing but localhost: no traffic leaves the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from .support import FAST_SONG

CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
pytestmark = pytest.mark.skipif(
    CHROMEDRIVER is None or CHROMIUM is None,
    reason="Chromium and its driver are not installed (apt-get install chromium chromium-driver; .ci/run does)",
)

RECORD = """
window.__seen = "";
const Native = window.WebSocket;
const decoder = new TextDecoder();
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  ws.addEventListener("message", (e) => {
    const keep = (text) => { window.__seen = (window.__seen + text).slice(-400000); };
    if (typeof e.data === "string") keep(e.data);
    else if (e.data instanceof ArrayBuffer) keep(decoder.decode(e.data));
    else if (e.data && e.data.arrayBuffer) e.data.arrayBuffer().then((b) => keep(decoder.decode(b)));
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
"""
"""Keeps the text of every websocket message the page receives (what the app drew)."""
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tui_pids(sock) -> list[int]:
    """The ``backbeat tui`` processes (not the web server) attached to ``sock``."""
    out = subprocess.run(["pgrep", "-f", f"backbeat tui --socket {sock}"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if int(p) != os.getpid()]


def python_tuis(sock) -> list[int]:
    """Those of them that are the Python process itself (textual-serve starts it through a shell)."""
    found = []
    for pid in tui_pids(sock):
        try:
            program = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0]
        except OSError:  # it ended meanwhile
            continue
        if b"python" in program:
            found.append(pid)
    return found


def wait(check: Callable[[], object], what: str, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return result


@pytest.fixture
def web(daemon, tmp_path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = open(tmp_path / "web.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "backbeat", "tui", "--web", "--host", "127.0.0.1", "--port", str(port),
                               "--socket", str(daemon.socket)], env=daemon.env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    wait(lambda: server.poll() is not None or _answers(port), "the web server", 15)
    assert server.poll() is None, (tmp_path / "web.log").read_text()
    yield url, server
    server.kill()
    server.wait(5)
    log.close()
    for pid in tui_pids(daemon.socket):
        os.kill(pid, signal.SIGKILL)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD})
    return driver


def screen(driver) -> str:
    return ESCAPES.sub("", driver.execute_script("return window.__seen || ''"))


@contextmanager
def tab(daemon, url: str) -> Iterator[tuple[object, set[int]]]:
    """A browser tab on the page, its TUI attached: (the driver, the tab's TUI process); closed after."""
    before = set(python_tuis(daemon.socket))
    driver = browser()
    try:
        driver.get(url)
        wait(lambda: "connected to the daemon" in screen(driver), "the TUI in the page to attach", 15)
        yield driver, wait(lambda: set(python_tuis(daemon.socket)) - before, "the tab's TUI process", 5)
    finally:
        driver.quit()


def test_the_page_plays_a_prompt_and_its_process_ends_with_the_tab(daemon, web):
    from selenium.webdriver.common.action_chains import ActionChains

    with tab(daemon, web[0]) as (driver, mine):
        focused = driver.execute_script("return document.activeElement && document.activeElement.tagName")
        assert focused == "TEXTAREA", f"the terminal has no keyboard focus on load (focus is on {focused})"
        ActionChains(driver).send_keys(f"/new {FAST_SONG}\n").perform()  # no click first: the input has the focus
        wait(lambda: f"composing “{FAST_SONG}”" in screen(driver), "the composing line", 15)
        wait(lambda: FAST_SONG in (daemon.call("status")["session"] or {}).get("prompt", ""), "the daemon's song", 15)
        wait(lambda: "PLAYING" in screen(driver) and f"{FAST_SONG} · " in screen(driver), "the song's name, playing", 15)
        bars = lambda: {int(b) for b in re.findall(r"bar (\d+)\.\d", screen(driver))}  # noqa: E731
        first = max(wait(bars, "a bar number", 10))
        wait(lambda: max(bars()) >= first + 2, "the playhead to move on", 10)
    closed = time.monotonic()  # the tab is closed
    wait(lambda: not (mine & set(python_tuis(daemon.socket))), "the closed tab's TUI to exit", 5)
    assert time.monotonic() - closed < 5
    daemon.call("stop")


@pytest.mark.parametrize("how", ["the web server dies", "SIGTERM"])
def test_a_tab_process_never_outlives_its_server_and_honours_sigterm(daemon, web, how):
    with tab(daemon, web[0]) as (_, mine):
        if how == "SIGTERM":
            for pid in mine:
                os.kill(pid, signal.SIGTERM)
        else:
            web[1].kill()
        wait(lambda: not (mine & set(python_tuis(daemon.socket))), f"the TUI to exit when {how}", 5)
