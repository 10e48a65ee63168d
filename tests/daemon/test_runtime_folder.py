"""A socket no one else can own: every planted folder, link or file is refused with one line naming
it, nothing is written through it, and a client never talks to a daemon of another user.

The suite runs as root in CI, so "another user" is nobody (uid 65534): the planted files are
chowned to it, and the fake daemon of another user is a real process running as it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import trio

from backbeat.daemon import server
from backbeat.daemon.address import check_folder, private_folder, read_private, token_file, write_private
from backbeat.daemon.bus import Bus
from backbeat.daemon.client import DaemonClient
from backbeat.daemon.errors import UnsafeFolderError
from backbeat.daemon.framing import encode

NOBODY = 65534
root_only = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="planting another user's files needs root")
system_python = pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="another user needs an interpreter it may run")


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    return text


def test_a_missing_folder_is_made_0700_and_passes(tmp_path: Path):
    folder = tmp_path / "run" / "backbeat"
    private_folder(folder)
    assert (folder.stat().st_mode & 0o777) == 0o700 and (folder.parent.stat().st_mode & 0o777) == 0o700
    check_folder(folder)


def test_a_symlinked_folder_is_refused(tmp_path: Path):
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    (tmp_path / "run").symlink_to(real)
    with pytest.raises(UnsafeFolderError) as caught:
        private_folder(tmp_path / "run")
    assert str(tmp_path / "run") in one_line(caught.value) and "symbolic link" in str(caught.value)


def test_a_0777_folder_is_refused_and_left_as_it_is(tmp_path: Path):
    folder = tmp_path / "run"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(UnsafeFolderError) as caught:
        private_folder(folder)
    assert "0777" in one_line(caught.value) and str(folder) in str(caught.value)
    assert (folder.stat().st_mode & 0o777) == 0o777


def test_a_folder_below_one_others_can_write_is_refused(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky: anyone could move our folder aside
    with pytest.raises(UnsafeFolderError) as caught:
        private_folder(shared / "backbeat")
    assert "writable by others" in one_line(caught.value)
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: fine
    private_folder(sticky / "runtime" / "backbeat")


@root_only
def test_a_foreign_owned_folder_is_refused(tmp_path: Path):
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    os.chown(folder, NOBODY, NOBODY)
    with pytest.raises(UnsafeFolderError) as caught:
        private_folder(folder)
    assert f"uid {NOBODY}" in one_line(caught.value)


def test_a_planted_symlink_at_the_token_path_is_refused_and_its_target_untouched(tmp_path: Path):
    folder = private_folder(tmp_path / "run")
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    (folder / "backbeat.token").symlink_to(target)
    with pytest.raises(UnsafeFolderError) as caught:
        write_private(folder / "backbeat.token", "1234 secret\n")
    assert "symbolic link" in one_line(caught.value)
    assert target.read_text() == "keep me\n"


@root_only
def test_a_planted_0666_token_file_of_another_user_is_refused_and_kept(tmp_path: Path):
    folder = private_folder(tmp_path / "run")
    planted = folder / "backbeat.token"
    planted.write_text("planted\n")
    planted.chmod(0o666)
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(UnsafeFolderError) as caught:
        write_private(planted, "1234 secret\n")
    assert f"uid {NOBODY}" in one_line(caught.value)
    assert planted.read_text() == "planted\n"
    with pytest.raises(UnsafeFolderError):  # nor does a client read a token from it
        read_private(planted)


def test_a_stale_token_file_of_the_user_is_replaced_by_a_0600_one(tmp_path: Path):
    folder = private_folder(tmp_path / "run")
    stale = folder / "backbeat.token"
    stale.write_text("old\n")
    stale.chmod(0o666)
    write_private(stale, "1234 secret\n")
    assert stale.read_text() == "1234 secret\n" and (stale.stat().st_mode & 0o777) == 0o600
    assert read_private(stale) == "1234 secret\n"


@pytest.mark.trio
async def test_the_daemon_refuses_an_unsafe_folder_with_one_line(tmp_path: Path, monkeypatch):
    folder = tmp_path / "run"
    folder.mkdir()
    folder.chmod(0o777)

    async def dispatch(request):
        return {}

    with pytest.raises(UnsafeFolderError) as caught:
        await server.serve(folder / "d.sock", dispatch, Bus(), "test")
    assert str(folder) in one_line(caught.value)
    assert not (folder / "d.sock").exists()
    monkeypatch.setenv("BACKBEAT_TRANSPORT", "tcp")
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    good = private_folder(tmp_path / "good")
    token_file(good / "d.sock").symlink_to(target)
    with pytest.raises(UnsafeFolderError):
        await server.serve(good / "d.sock", dispatch, Bus(), "test")
    assert target.read_text() == "keep me\n"


def test_backbeat_daemon_in_a_0777_folder_says_so_in_one_line(tmp_path: Path):
    folder = tmp_path / "run"
    folder.mkdir()
    folder.chmod(0o777)
    done = subprocess.run([sys.executable, "-m", "backbeat", "daemon", "--midi-api", "null", "--socket", str(folder / "d.sock")],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "OUTPUT_DIR": str(tmp_path / "out")})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(folder) in lines[0] and "0777" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_client_refuses_a_0777_folder(tmp_path: Path):
    folder = tmp_path / "run"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(UnsafeFolderError) as caught:
        DaemonClient(folder / "d.sock", timeout=1).connect()
    assert str(folder) in one_line(caught.value)


FAKE_DAEMON = textwrap.dedent("""
    import socket, sys
    path, log, hello = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    print("ready", flush=True)
    while True:
        conn, _ = s.accept()
        conn.sendall(hello)
        conn.settimeout(1.0)
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        with open(log, "ab") as out:
            out.write(data)
        conn.close()
""")


@root_only
@system_python
def test_a_client_never_talks_to_a_daemon_of_another_user():
    tmp_path = Path(tempfile.mkdtemp())  # not below pytest's 0700 folder: nobody must reach its own
    tmp_path.chmod(0o755)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    heard = theirs / "heard"
    hello = encode({"type": "hello", "protocol": 1, "version": "evil"}).hex()
    # the system's interpreter: nobody cannot run the one in root's home; -I: nothing of ours on its path
    proc = subprocess.Popen(["/usr/bin/python3", "-I", "-c", FAKE_DAEMON, str(theirs / "evil.sock"), str(heard), hello],
                            user=NOBODY, group=NOBODY, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        ours = private_folder(tmp_path / "run")
        os.rename(theirs / "evil.sock", ours / "d.sock")  # as if it had moved ours aside and put its own there
        with pytest.raises(UnsafeFolderError) as caught:
            DaemonClient(ours / "d.sock", timeout=2).request("status")
        assert f"uid {NOBODY}" in one_line(caught.value) and "refusing the daemon" in str(caught.value)
        time.sleep(1.2)  # the fake daemon waits a second for a request
        assert not heard.exists() or heard.read_bytes() == b""
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp_path, ignore_errors=True)
