"""Start-up problems reach a person (issue 17): a last session that cannot be loaded is said in the
daemon's ready line, in ``status``, and in the log a client that subscribes later still gets."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import trio

from backbeat.daemon import main as daemon_main
from backbeat.daemon.client import end_process, wait_until_ready
from backbeat.daemon.state import Memory
from backbeat.engine.commands import EngineConfig
from backbeat.generators.settings import Settings
from tests.daemon.conftest import TrioClient


def corrupt_session(root):
    folder = root / "out" / "session-20250101-000000-abcd"
    folder.mkdir(parents=True)
    (folder / "song-state.json").write_text("{not json")
    return folder


@pytest.mark.trio
async def test_a_last_session_that_cannot_be_loaded_is_in_status_and_in_the_log_of_a_late_subscriber(tmp_path):
    folder = corrupt_session(tmp_path)
    memory = Memory(tmp_path / "state.json")
    memory.remember(folder)
    options = daemon_main.DaemonOptions(
        socket=tmp_path / "d.sock", engine=EngineConfig(midi_api="null", rt_priority=0, nice=0),
        settings=Settings(output_dir=tmp_path / "out"), memory=memory,
    )
    async with trio.open_nursery() as nursery:
        path = await nursery.start(daemon_main.run, options)
        await trio.sleep(0.2)  # nobody listened when it was said
        c = await TrioClient.connect(path)
        status = await c.ok("status")
        assert status["last_session_error"].startswith(f"could not load the last session {folder}")
        assert status["session"] is None
        await c.ok("subscribe", topics=["log"])
        told = await c.wait_event("log", lambda d: "could not load the last session" in d["message"], timeout=1)
        assert told["level"] == "warning"
        reply = await c.call("play")
        assert reply["error"]["code"] == "conflict"
        nursery.cancel_scope.cancel()


def test_the_ready_line_says_the_last_session_could_not_be_loaded(tmp_path):
    folder = corrupt_session(tmp_path)
    state = tmp_path / "state" / "backbeat"
    state.mkdir(parents=True)
    (state / "daemon.json").write_text(json.dumps({"last_session": str(folder)}))
    sock = tmp_path / "d.sock"
    env = {**os.environ, "OUTPUT_DIR": str(tmp_path / "out"), "XDG_STATE_HOME": str(tmp_path / "state"), "BACKBEAT_SOCKET": str(sock)}
    proc = subprocess.Popen([sys.executable, "-m", "backbeat", "daemon", "--midi-api", "null"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until_ready(sock, proc)
        ready = proc.stderr.readline()
    finally:
        end_process(proc)
    assert ready.startswith(f"backbeat: daemon ready on {sock}; engine on null")
    assert f"could not load the last session {folder}" in ready
