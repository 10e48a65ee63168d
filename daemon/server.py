"""The socket server: a Unix socket (0600, in a 0700 folder) or, on Windows, loopback TCP with a
token; per connection a greeting, then requests answered in order and, after ``subscribe``, events.

trio has no ready-made Unix listener (trio issue #279), so one is built from an ``AF_UNIX``
``trio.socket``, ``trio.SocketListener`` and ``trio.serve_listeners``. A stale socket file is
removed only after checking that no daemon answers on it.

Bad input is contained to its connection: a frame that does not decode, is not a map or is too
large gets an error reply (when one can be sent) and that connection is closed; an unknown command
or wrong arguments get an error reply and the connection carries on.

This is the boundary where the daemon's own errors become the protocol's: a handler's
``RefusedError`` is the error reply whose code ``REFUSALS`` gives; anything else is ``internal``.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from .address import token_file, use_tcp
from .bus import Bus, Subscriber
from .errors import (
    AlreadyRunningError, ConflictError, DaemonError, FailedError, InvalidRequestError, NotFoundError, RefusedError,
    UnavailableError,
)
from .framing import Decoder, FrameError, encode
from .protocol import ErrorCode, ProtocolError, Request, SubscribeResult, error, frame_id, hello, ok, parse_request

log = logging.getLogger(__name__)

Dispatch = Callable[[Request], Awaitable[dict[str, Any]]]
"""A request's result as JSON (``Commands.reply``)."""
CONNECTION_COMMANDS = frozenset({"subscribe"})
"""Commands a connection answers itself (they act on the connection); ``dispatch`` has every other."""
REFUSALS: dict[type[RefusedError], ErrorCode] = {
    InvalidRequestError: "bad_args",
    NotFoundError: "not_found",
    ConflictError: "conflict",
    UnavailableError: "unavailable",
    FailedError: "failed",
}
"""The protocol's error code for each of the daemon's refusals."""


def refusal(e: RefusedError) -> ProtocolError:
    """``e`` as the protocol error a client is owed."""
    code = next(code for kind, code in REFUSALS.items() if isinstance(e, kind))
    return ProtocolError(code, str(e))
READ_CHUNK = 65536
IN_FLIGHT = 32
"""Requests one connection may have unanswered at once; more wait for a slot (back-pressure)."""


async def _answers(path: Path) -> bool:
    try:
        stream = await trio.open_unix_socket(str(path))
    except OSError:
        return False
    await stream.aclose()
    return True


async def open_unix_listener(path: Path) -> trio.SocketListener:
    """Listen on ``path`` (mode 0600, parent 0700).

    Raises:
        AlreadyRunningError: a daemon already answers there.
        DaemonError: the socket cannot be created.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() or path.is_symlink():
        if await _answers(path):
            raise AlreadyRunningError(f"a backbeat daemon is already running on {path}")
        path.unlink()
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket file is born 0600: no window in which others could connect
    try:
        await sock.bind(str(path))
    except OSError as e:
        sock.close()
        raise DaemonError(f"cannot listen on {path}: {e.strerror or e}") from e
    finally:
        os.umask(old)
    sock.listen(64)
    return trio.SocketListener(sock)


async def open_tcp_listener(path: Path) -> tuple[trio.SocketListener, str]:
    """Loopback TCP on a free port; writes "port token" to the 0600 token file next to ``path``."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listener = listeners[0]
    port = listener.socket.getsockname()[1]
    token = secrets.token_hex(16)
    file = token_file(path)
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"{port} {token}\n")
    return listener, token


class Connection:
    """One client: its stream, its decoder, and its subscription."""

    def __init__(self, stream: trio.abc.Stream, dispatch: Dispatch, bus: Bus, token: str | None) -> None:
        self.stream = stream
        self.dispatch = dispatch
        self.bus = bus
        self.token = token
        self.authenticated = token is None
        self.subscriber: Subscriber | None = None
        self._send_lock = trio.Lock()
        self._in_flight = trio.Semaphore(IN_FLIGHT)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.stream.send_all(encode(frame))

    async def serve(self, version: str) -> None:
        """Talk to this client until it leaves; nothing it does can raise out of here."""
        try:
            async with trio.open_nursery() as nursery:
                await self.send(hello(version))
                await self._read_loop(nursery)
                nursery.cancel_scope.cancel()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
            pass  # the client went away
        except* Exception as group:  # a bug must cost one connection, never the server
            log.error("connection failed", exc_info=group)
            self.bus.log("error", f"internal error on a client connection: {group.exceptions[0]}")
        finally:
            if self.subscriber is not None:
                self.bus.unsubscribe(self.subscriber)
            with trio.move_on_after(0.5) as scope:
                scope.shield = True
                await self.stream.aclose()

    async def _read_loop(self, nursery: trio.Nursery) -> None:
        decoder = Decoder()
        while True:
            data = await self.stream.receive_some(READ_CHUNK)
            if not data:
                return
            try:
                decoder.feed(data)
                for frame in decoder:
                    if not await self._handle(frame, nursery):
                        return
            except FrameError as e:
                await self.send(error(None, e.code, str(e)))  # type: ignore[arg-type]
                return

    async def _handle(self, frame: dict[str, Any], nursery: trio.Nursery) -> bool:
        """Answer one frame; False when the connection must close."""
        try:
            if not self.authenticated:
                return await self._authenticate(frame)
            request = parse_request(frame)
        except ProtocolError as e:
            await self.send(error(frame_id(frame), e.code, e.message))
            return e.code not in ("bad_frame", "too_large")
        if request.cmd == "subscribe":
            await self._subscribe(request, nursery)
            return True
        # Each request is answered by its own task, so a command that waits (learn waits for a pad)
        # never holds back a panic sent after it; the limiter bounds what one client can start.
        await self._in_flight.acquire()
        nursery.start_soon(self._answer, request)
        return True

    async def _answer(self, request: Request) -> None:
        try:
            try:
                result = await self.dispatch(request)
            except (ProtocolError, RefusedError) as e:
                refused = e if isinstance(e, ProtocolError) else refusal(e)
                await self.send(error(request.id, refused.code, refused.message))
                return
            except Exception as e:  # a bug in a handler must not take the daemon down
                log.exception("internal error in %s", request.cmd)
                self.bus.log("error", f"internal error in {request.cmd}: {e}")
                await self.send(error(request.id, "internal", f"internal error in {request.cmd}: {e}"))
                return
            await self.send(ok(request.id, result))
        finally:
            self._in_flight.release()

    async def _authenticate(self, frame: dict[str, Any]) -> bool:
        args = frame.get("args") if isinstance(frame, dict) else None
        if frame.get("cmd") == "auth" and isinstance(args, dict) and secrets.compare_digest(str(args.get("token", "")), self.token or ""):
            self.authenticated = True
            await self.send(ok(frame_id(frame) or 0, {}))
            return True
        await self.send(error(frame_id(frame), "bad_frame", "authenticate first: auth {token}"))
        return False

    async def _subscribe(self, request: Request, nursery: trio.Nursery) -> None:
        topics = request.args.topics  # type: ignore[attr-defined]
        if self.subscriber is not None:
            self.bus.unsubscribe(self.subscriber)
        self.subscriber = self.bus.subscribe(topics)
        await self.send(ok(request.id, SubscribeResult(topics=sorted(self.subscriber.topics)).model_dump(mode="json")))
        nursery.start_soon(self._forward, self.subscriber)

    async def _forward(self, sub: Subscriber) -> None:
        async with sub.receive:
            async for frame in sub.receive:
                await self.send(frame)
        if sub.overflowed.is_set():
            await self.send({"type": "event", "event": "log", "data": {"level": "warning", "message": "events queued faster than this client read them: disconnecting; reconnect and call status"}})
            await self.stream.aclose()


async def serve(path: Path, dispatch: Dispatch, bus: Bus, version: str, *, task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED) -> None:
    """Accept clients until cancelled; ``task_status.started`` gets the socket path once listening."""
    token = None
    if use_tcp():
        listener, token = await open_tcp_listener(path)
    else:
        listener = await open_unix_listener(path)

    async def handler(stream: trio.abc.Stream) -> None:
        await Connection(stream, dispatch, bus, token).serve(version)

    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, handler, [listener])
            task_status.started(path)
    finally:
        with trio.CancelScope(shield=True):
            for p in (path, token_file(path)):
                try:
                    if not use_tcp() or p != path:
                        p.unlink()
                except OSError as e:
                    if e.errno != errno.ENOENT:
                        log.warning("could not remove %s: %s", p, e)
