"""The TUI's asyncio client of the daemon socket: greeting, requests by id, events, reconnect.

    client = DaemonLink(app.post_message, path)
    app.run_worker(client.run())                # connects, and reconnects, until cancelled
    result = await client.request("jump", {"section": "chorus"})

Each connection: read the greeting, authenticate (TCP on Windows), ``subscribe`` to every event,
take a fresh ``status``, then post ``Connected``. Responses resolve the future of their request id;
events are posted as ``DaemonEvent``. When the connection fails or ends — the daemon restarts, or
sends bytes that are not frames — pending requests fail with ``NotConnected``, ``Disconnected`` is
posted, and the client tries again after a backoff. Closing the client only disconnects: it never
asks the daemon to stop anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

from textual.message import Message

from backbeat.daemon.address import UnsafeFolderError, check_folder, check_peer, default_socket, token_file, use_tcp
from backbeat.daemon.framing import Decoder, FrameError, encode
from backbeat.daemon.envelope import PROTOCOL, request

from .errors import NotConnected, RequestFailed
from .messages import Connected, DaemonEvent, Disconnected

BACKOFF = (0.1, 0.25, 0.5, 1.0, 2.0)
"""Seconds before each reconnect attempt after a failure; the last one repeats."""
REQUEST_TIMEOUT = 10.0
"""Seconds a request may wait for its response."""
READ_CHUNK = 65536

Post = Callable[[Message], object]


def one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class DaemonLink:
    """One client of the daemon that keeps itself connected. Not thread-safe: one event loop."""

    def __init__(self, post: Post, path: Path | None = None, *, backoff: tuple[float, ...] = BACKOFF,
                 timeout: float = REQUEST_TIMEOUT) -> None:
        self.post = post
        self.path = path or default_socket()
        self.backoff = backoff
        self.timeout = timeout
        self.version = ""
        self.connected = False
        """True between ``Connected`` and ``Disconnected``: requests may be sent."""
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._greeting: asyncio.Future[dict[str, Any]] | None = None
        self._ids = count(1)
        self._failures = 0
        self._ended: str | None = None
        """Why the current connection's reading ended, once it has."""
        self._frames = {"response": self._on_response, "event": self._on_event, "hello": self._on_hello}

    # --- the connection's life -----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and stay connected until cancelled, posting every change of the connection."""
        while True:
            try:
                reason = await self._session()
            except Exception as e:  # whatever ended it, the answer is the same: say why, try again
                reason = one_line(e)
            finally:
                self._drop()
            delay = self.backoff[min(self._failures, len(self.backoff) - 1)]
            self.post(Disconnected(reason, delay, first=self._failures == 0))
            self._failures += 1
            await asyncio.sleep(delay)

    async def _session(self) -> str:
        """One connection, from opening to its end; returns why it ended."""
        reader, writer, token = await self._open()
        self._writer, self._ended = writer, None
        self._greeting = asyncio.get_running_loop().create_future()
        reading = asyncio.create_task(self._read_loop(reader))
        try:
            hello = await asyncio.wait_for(self._greeting, self.timeout)
            if hello.get("protocol") != PROTOCOL:
                return f"the daemon speaks protocol {hello.get('protocol')!r}, this TUI speaks {PROTOCOL}"
            self.version = str(hello.get("version", ""))
            if token is not None:
                await self._call("auth", {"token": token})
            await self._call("subscribe", {})
            status = await self._call("status", {})
            self.connected, self._failures = True, 0
            self.post(Connected(self.version, status))
            return await reading
        finally:
            reading.cancel()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str | None]:
        try:
            if use_tcp():  # the daemon wrote "port token" next to where the socket would be
                port, token = token_file(self.path).read_text().split()
                reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
                return reader, writer, token
            if self.path.parent.exists():
                check_folder(self.path.parent)  # a folder another user could change is never trusted
            reader, writer = await asyncio.open_unix_connection(str(self.path))
            try:
                check_peer(writer.get_extra_info("socket"), self.path)  # a daemon of another user is refused
            except UnsafeFolderError:
                writer.close()
                raise
            return reader, writer, None
        except UnsafeFolderError as e:
            raise NotConnected(str(e)) from None
        except (OSError, ValueError):
            raise NotConnected(f"no daemon answers at {self.path} (start one with: backbeat daemon)") from None

    def _drop(self) -> None:
        """Forget the connection: close it, and fail whatever still waits on it."""
        self.connected = False
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._fail_waiting("the connection to the daemon was lost")
        self._pending.clear()
        self._greeting = None

    def _fail_waiting(self, reason: str) -> None:
        for future in [*self._pending.values(), *([self._greeting] if self._greeting else [])]:
            if not future.done():
                future.set_exception(NotConnected(reason))

    async def _read_loop(self, reader: asyncio.StreamReader) -> str:
        """Read frames until the stream ends or breaks; returns why. Never raises."""
        decoder = Decoder()
        try:
            while data := await reader.read(READ_CHUNK):
                decoder.feed(data)
                for frame in decoder:
                    self.handle_frame(frame)
            reason = "the daemon closed the connection"
        except FrameError as e:
            reason = f"the daemon sent a bad frame ({one_line(e)})"
        except OSError as e:
            reason = f"the connection broke ({one_line(e)})"
        self._ended = reason  # requests sent from now on would never be answered
        self._fail_waiting(reason)
        return reason

    # --- frames ----------------------------------------------------------------------------------------

    def handle_frame(self, frame: dict[str, Any]) -> None:
        """Route one decoded frame by its type; frames of unknown types are ignored (newer daemons)."""
        kind = frame.get("type")
        handler = self._frames.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(frame)

    def _on_hello(self, frame: dict[str, Any]) -> None:
        if self._greeting is not None and not self._greeting.done():
            self._greeting.set_result(frame)

    def _on_response(self, frame: dict[str, Any]) -> None:
        request_id = frame.get("id")
        error = frame.get("error") or {}
        if request_id is None and error.get("code") == "too_many_clients" and self._greeting is not None \
                and not self._greeting.done():  # turned away instead of greeted
            self._greeting.set_exception(NotConnected(f"the daemon is busy: {error.get('message', 'too many clients')}"))
            return
        future = self._pending.pop(request_id, None) if type(request_id) is int else None
        if future is not None and not future.done():
            future.set_result(frame)

    def _on_event(self, frame: dict[str, Any]) -> None:
        name, data = frame.get("event"), frame.get("data")
        if isinstance(name, str) and isinstance(data, dict):
            self.post(DaemonEvent(name, data))

    # --- requests --------------------------------------------------------------------------------------

    async def request(self, cmd: str, args: dict[str, Any] | None = None, *, timeout: float | None = None) -> dict[str, Any]:
        """Send ``cmd`` and return its result (waiting at most ``timeout`` s, default ``self.timeout``).

        Raises:
            NotConnected: no daemon is attached, or the connection was lost before the answer.
            RequestFailed: the daemon answered with an error (its code and one-line message).
        """
        if not self.connected:
            raise NotConnected("not connected to the daemon (retrying)")
        return await self._call(cmd, args or {}, timeout)

    async def _call(self, cmd: str, args: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        if self._writer is None or self._ended is not None:
            raise NotConnected(self._ended or "not connected to the daemon (retrying)")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(encode(request(request_id, cmd, args)))
            await self._writer.drain()
            frame = await asyncio.wait_for(future, timeout or self.timeout)
        except OSError as e:
            raise NotConnected(f"the connection broke ({one_line(e)})") from None
        except TimeoutError:
            raise NotConnected(f"the daemon did not answer {cmd} within {timeout or self.timeout:g} s") from None
        finally:
            self._pending.pop(request_id, None)
        if frame.get("ok"):
            return frame.get("result") or {}
        err = frame.get("error") or {}
        raise RequestFailed(str(err.get("code", "internal")), str(err.get("message", f"{cmd} failed")))
