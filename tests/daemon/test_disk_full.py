"""A disk that fills up under a running daemon (issue 17): ``backbeat daemon`` in a private mount
namespace whose output folder is a small tmpfs the test fills and frees (through ``nsenter``). A
failed write is said at once (the reply, a log event a late subscriber still gets, ``status``), the
song keeps playing from memory, and the folder is written when space returns."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backbeat.daemon.client import DaemonClient, end_process, wait_until_ready
from backbeat.daemon.framing import Decoder, encode
from backbeat.daemon.protocol import request


def _private_mounts_allowed() -> bool:
    if not (shutil.which("unshare") and shutil.which("nsenter")):
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o size=1m none /mnt"],
                           capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not _private_mounts_allowed(),
                                reason="needs unshare -m and mount (root) for a small tmpfs that can be filled")


class FullDiskDaemon:
    def __init__(self, tmp: Path) -> None:
        self.out = tmp / "out"
        self.out.mkdir()
        self.socket = tmp / "d.sock"
        env = {**os.environ, "OUTPUT_DIR": str(self.out), "XDG_STATE_HOME": str(tmp / "state"), "BACKBEAT_SOCKET": str(self.socket)}
        script = f'mount -t tmpfs -o size=4m backbeat-test {self.out} && exec "$0" -m backbeat daemon --midi-api null'
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script, sys.executable],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_until_ready(self.socket, self.proc):
            self.proc.kill()
            raise RuntimeError(f"the daemon did not start: {self.proc.stderr.read().decode(errors='replace')[-800:]}")

    def inside(self, *argv: str) -> subprocess.CompletedProcess:
        """Run a command in the daemon's mount namespace (where the tmpfs is)."""
        return subprocess.run(["nsenter", "-t", str(self.proc.pid), "-m", *argv], capture_output=True, text=True)

    def fill(self) -> None:
        self.inside("dd", "if=/dev/zero", f"of={self.out}/filler", "bs=64k")
        assert "100%" in self.inside("df", str(self.out)).stdout

    def free(self) -> None:
        self.inside("rm", f"{self.out}/filler")

    def song_state(self, folder: str) -> dict:
        return json.loads(self.inside("cat", f"{folder}/song-state.json").stdout)

    def stop(self) -> None:
        end_process(self.proc)


def kept_log(path: Path, seconds: float = 0.5) -> list[str]:
    """What a client that subscribes now gets of the log at once."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    s.settimeout(0.1)
    s.sendall(encode(request(1, "subscribe", {"topics": ["log"]})))
    decoder, messages, end = Decoder(), [], time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data = s.recv(65536)
        except TimeoutError:
            continue
        decoder.feed(data)
        messages += [f["data"]["message"] for f in decoder if f.get("type") == "event"]
    s.close()
    return messages


def wait_until(predicate, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end
        time.sleep(0.1)


def wait_status(client: DaemonClient, predicate, timeout: float = 10.0) -> dict:
    end = time.monotonic() + timeout
    while not predicate(status := client.request("status")):
        assert time.monotonic() < end, status
        time.sleep(0.1)
    return status


@pytest.fixture
def full_disk_daemon(tmp_path):
    d = FullDiskDaemon(tmp_path)
    yield d
    d.stop()


def test_an_edit_on_a_full_disk_says_unsaved_keeps_playing_and_is_written_when_space_returns(full_disk_daemon):
    d = full_disk_daemon
    with DaemonClient(d.socket) as client:
        client.request("generate", prompt="deep house in A minor", seed=3, bars=8, play=True)
        folder = wait_status(client, lambda s: s["session"] and s["session"]["path"])["session"]["path"]
        # The alternatives a new song gets in the background come first (they rewrite the song too).
        wait_until(lambda: len(d.song_state(folder).get("alternatives") or {}) == 4, 20)
        d.fill()
        reply = client.request("regenerate", part="bass")
        assert "No space left" in reply["unsaved"], "the reply says the change is not saved"
        status = client.request("status")
        assert "No space left" in status["save_error"] and status["transport"]["state"] == "playing"
        assert any("could not be written" in m for m in kept_log(d.socket)), "a client that subscribes later is told"
        assert max(c["version"] for c in d.song_state(folder)["tracks"][1]["clips"]) == 1, "nothing half-written"
        d.free()
        wait_status(client, lambda s: s["save_error"] is None)
        assert "unsaved" not in client.request("status") and "unsaved" not in client.request("mute", track="lead", on=False)
    bass = next(t for t in d.song_state(folder)["tracks"] if t["part"] == "bass")
    assert max(c["version"] for c in bass["clips"]) == 2, "the change made while the disk was full is on disk now"


def test_a_song_made_on_a_full_disk_plays_and_gets_its_folder_when_space_returns(full_disk_daemon):
    d = full_disk_daemon
    d.fill()
    with DaemonClient(d.socket) as client:
        client.request("generate", prompt="lofi study beats", seed=4, bars=8, play=True)
        status = wait_status(client, lambda s: s["save_error"] is not None and s["transport"]["state"] == "playing")
        assert status["session"]["path"] is None
        d.free()
        status = wait_status(client, lambda s: s["save_error"] is None and s["session"]["path"])
        session_id = status["session"]["session_id"]
    assert d.song_state(status["session"]["path"])["sessionId"] == session_id
