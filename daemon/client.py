"""A small blocking client of the daemon's socket, for the thin CLI commands and scripts.

    with DaemonClient() as daemon:
        print(daemon.request("status"))
"""

from __future__ import annotations

import errno
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .address import check_folder, check_peer, default_socket, read_private, token_file, use_tcp
from .errors import BadClientInput, BusyError, ClientError, DaemonError, NotRunningError
from .framing import Decoder, encode
from .envelope import PROTOCOL, request

if TYPE_CHECKING:
    import subprocess

_INPUT_CODES = {"bad_args", "not_found", "unknown_command", "bad_frame"}
_BUSY_ERRNOS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK})
"""``connect`` failing so: a daemon is there, its backlog full (not: no daemon)."""
BUSY_WAIT_S = 2.0
"""Seconds a client keeps trying a daemon that answers "too many clients" before saying so."""


class _Busy(Exception):
    """One attempt found the daemon busy (why)."""


class DaemonClient:
    def __init__(self, path: Path | None = None, *, timeout: float = 10.0) -> None:
        self.path = path or default_socket()
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._decoder = Decoder()
        self._pending: list[dict[str, Any]] = []
        self._next_id = 1
        self.version = ""

    def __enter__(self) -> DaemonClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Connect and read the greeting, trying again for up to ``BUSY_WAIT_S`` while the daemon
        is busy (its client cap reached, its backlog full).

        Raises:
            NotRunningError: no daemon answers.
            BusyError: a daemon answers but takes no more clients now.
            UnsafeFolderError: the runtime folder, the token file or the daemon's process is not
                this user's alone (the client never talks to it).
        """
        end = time.monotonic() + min(BUSY_WAIT_S, self.timeout)
        pause = 0.02
        while True:
            try:
                self._attempt()
                return
            except _Busy as busy:
                self.close()
                if time.monotonic() + pause > end:
                    raise BusyError(f"the backbeat daemon on {self.path} is busy ({busy}); try again in a moment") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def _attempt(self) -> None:
        token = ""
        try:
            if use_tcp():
                port, token = read_private(token_file(self.path)).split()
                self._sock = socket.create_connection(("127.0.0.1", int(port)), timeout=self.timeout)
            else:
                if os.path.lexists(self.path.parent):
                    check_folder(self.path.parent)  # a folder another user could change is never trusted
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.settimeout(self.timeout)
                self._sock.connect(str(self.path))
        except OSError as e:
            self.close()
            if isinstance(e, DaemonError):  # the folder check: its own line
                raise
            if e.errno in _BUSY_ERRNOS:
                raise _Busy("its queue of connecting clients is full") from e
            raise NotRunningError(f"no backbeat daemon is running on {self.path} (start one with: backbeat daemon)") from e
        except ValueError as e:
            self.close()
            raise NotRunningError(f"no backbeat daemon is running on {self.path} (start one with: backbeat daemon)") from e
        try:
            check_peer(self._sock, self.path)
        except DaemonError:
            self.close()
            raise
        self._decoder, self._pending = Decoder(), []
        greeting = self._read()
        if greeting.get("type") == "response" and (greeting.get("error") or {}).get("code") == "too_many_clients":
            raise _Busy(str(greeting["error"].get("message", "too many clients")))
        if greeting.get("type") != "hello" or greeting.get("protocol") != PROTOCOL:
            raise ClientError("bad_frame", f"unexpected greeting from {self.path}: {greeting}"[:300])
        self.version = str(greeting.get("version", ""))
        if use_tcp():
            self._call("auth", {"token": token})

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _drain(self) -> list[dict[str, Any]]:
        """The frames still readable on a connection the daemon closed."""
        try:
            while data := self._sock.recv(65536):
                self._decoder.feed(data)
        except OSError:
            pass
        return list(self._decoder)

    def _read(self) -> dict[str, Any]:
        while not self._pending:
            try:
                data = self._sock.recv(65536)
            except OSError as e:
                raise NotRunningError(f"the daemon closed the connection ({e})") from e
            if not data:
                raise NotRunningError("the daemon closed the connection")
            self._decoder.feed(data)
            self._pending.extend(self._decoder)
        return self._pending.pop(0)

    def _call(self, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        request_id = self._next_id
        self._next_id += 1
        try:
            self._sock.sendall(encode(request(request_id, cmd, args)))
        except OSError as e:  # closed on us: what it said before, if anything, is read below
            if not self._pending and not isinstance(e, TimeoutError):
                self._pending.extend(self._drain())
            if not self._pending:
                raise NotRunningError(f"the daemon closed the connection ({e})") from e
        while True:
            frame = self._read()
            if frame.get("type") == "response" and frame.get("id") in (request_id, None):
                break
        if frame.get("ok"):
            return frame.get("result") or {}
        err = frame.get("error") or {}
        code, message = str(err.get("code", "internal")), str(err.get("message", "the daemon refused"))
        raise (BadClientInput if code in _INPUT_CODES else ClientError)(code, message)

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send ``cmd`` and return its result (events that arrive meanwhile are skipped).

        Raises:
            BadClientInput: the daemon refused the request as bad input (a ValueError: exit 2).
            ClientError: the daemon could not do it.
            NotRunningError: no daemon, or it went away.
        """
        if self._sock is None:
            self.connect()
        return self._call(cmd, {k: v for k, v in args.items() if v is not None})


def wait_until_ready(path: Path, proc: subprocess.Popen, *, seconds: float = 20.0, poll: float = 0.1) -> bool:
    """Poll a daemon just started as ``proc`` on ``path`` until its engine is up: True then, False
    once ``proc`` has exited or ``seconds`` have passed (the caller says why and stops it)."""
    end = time.monotonic() + seconds
    while True:
        try:
            with DaemonClient(path, timeout=2) as daemon:
                if daemon.request("status")["engine"]["alive"]:
                    return True
        except DaemonError:
            pass
        if proc.poll() is not None or time.monotonic() > end:
            return False
        time.sleep(poll)


def end_process(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM ``proc`` (a daemon ends every note and saves on it), SIGKILL it if it is still there
    after ``timeout`` seconds, and reap it."""
    import subprocess  # here: the thin clients that import this module never need it

    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
