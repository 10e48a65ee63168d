"""The socket server: a Unix socket (0600, in a 0700 folder) or, on Windows, loopback TCP with a
token; per connection a greeting, then requests answered in order and, after ``subscribe``, events.

The socket is bound only inside a folder verified to be the user's alone (``address``); a stale
socket file is removed only after checking that no daemon answers on it. The accept loop is the
daemon's own (a non-blocking listening socket and ``trio.lowlevel.wait_readable``), so that every
client it cannot take still gets an answer: beyond the client cap (``client_cap``: the setting,
lowered to keep descriptors for the engine) and when the process is out of descriptors (a spare
one is given up to accept and turn the client away), it is sent one ``too_many_clients`` frame and
closed, and the loop carries on.

Bad input is contained to its connection: a frame that does not decode, is not a map or is too
large gets an error reply (after the answers to every request before it) and that connection is
closed; an unknown command or wrong arguments get an error reply and the connection carries on. No
client can hold the daemon's memory or time: a frame left half-sent, a TCP connection without its
``auth``, a client that leaves what it is sent unread, each is closed after its timeout
(``ServerSettings``), and before ``auth`` a frame is at most ``PRE_AUTH_FRAME`` bytes.

This is the boundary where the daemon's own errors become the protocol's: a handler's
``RefusedError`` is the error reply whose code ``REFUSALS`` gives; anything else is ``internal``.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from backbeat.generators.settings import ServerSettings

from .address import private_folder, token_file, use_tcp, write_private
from .bus import QUEUE, Bus, Subscriber
from .errors import (
    AlreadyRunningError, ConflictError, DaemonError, FailedError, InvalidRequestError, NotFoundError, RefusedError,
    UnavailableError,
)
from .envelope import MAX_MESSAGE
from .framing import Decoder, FrameError, encode
from .protocol import ErrorCode, ProtocolError, Request, SubscribeResult, error, event, frame_id, hello, ok, parse_request

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
BACKLOG = 512
"""Connections the kernel queues before the daemon accepts them (clamped to the system's
``somaxconn``): a burst of clients waits its turn instead of being refused with EAGAIN."""
ACCEPT_BATCH = 64
"""Connections accepted per wake-up of the accept loop."""
PRE_AUTH_FRAME = 4096
"""(TCP) Bytes a connection may send before it has authenticated: an ``auth`` frame is tiny."""
DRAIN_S = 5.0
"""Seconds a connection that ends (its client closed, or sent a bad frame) waits for the answers
to the requests it sent before it, so none is lost."""
CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""``accept`` failing for want of descriptors or memory: that client is turned away, not the server."""
TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name) for name in ("EAGAIN", "EWOULDBLOCK", "ECONNABORTED", "EPROTO", "EPERM", "EINTR", "ENETDOWN", "EHOSTUNREACH")
    if hasattr(errno, name)
)


async def _answers(path: Path) -> bool:
    try:
        stream = await trio.open_unix_socket(str(path))
    except OSError:
        return False
    await stream.aclose()
    return True


async def open_unix_listener(path: Path) -> socket.socket:
    """Listen on ``path`` (mode 0600) inside its verified 0700 folder (``address.private_folder``).

    Raises:
        AlreadyRunningError: a daemon already answers there.
        UnsafeFolderError: the folder is not the user's alone.
        DaemonError: the socket cannot be created.
    """
    private_folder(path.parent)
    if path.exists() or path.is_symlink():
        if await _answers(path):
            raise AlreadyRunningError(f"a backbeat daemon is already running on {path}")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket file is born 0600: no window in which others could connect
    try:
        sock.bind(str(path))
    except OSError as e:
        sock.close()
        raise DaemonError(f"cannot listen on {path}: {e.strerror or e}") from e
    finally:
        os.umask(old)
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


def open_tcp_listener(path: Path) -> tuple[socket.socket, str]:
    """Loopback TCP on a free port; writes "port token" to the 0600 token file next to ``path``
    (``address.write_private``: never through a link, never into another user's file).

    Raises:
        UnsafeFolderError: the folder or the token path is not the user's alone.
    """
    sock = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
    port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    try:
        write_private(token_file(path), f"{port} {token}\n")
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock, token


def client_cap(limits: ServerSettings) -> int:
    """Clients served at once: ``max_clients``, lowered so that ``reserve_fds`` descriptors stay
    free beyond those open now (an engine restart, the session's writes, the listener's own)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        in_use = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 32
    except (ImportError, OSError):  # Windows: no descriptor limit to speak of
        return limits.max_clients
    if soft == resource.RLIM_INFINITY:
        return limits.max_clients
    return max(1, min(limits.max_clients, soft - in_use - limits.reserve_fds))


def _busy_frame(why: str) -> bytes:
    return encode(error(None, "too_many_clients", why))


class _Acceptor:
    """The accept loop: each client served by a ``Connection`` while fewer than ``cap`` are; the
    next one answered "too many clients" and closed; and when the process is out of descriptors,
    the one kept spare is given up to turn the new client away the same way, said once."""

    def __init__(self, sock: socket.socket, serve_one: Callable[[trio.SocketStream], Awaitable[None]], bus: Bus, cap: int) -> None:
        self.sock, self.serve_one, self.bus, self.cap = sock, serve_one, bus, cap
        self.clients = 0
        self._spare: int | None = _spare()
        self._starved: str | None = None
        """The capacity error said since the last client served (once, not once per client)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            task_status.started()
            while True:
                await trio.lowlevel.wait_readable(self.sock)
                for _ in range(ACCEPT_BATCH):  # a burst is taken in at once, not one per wake-up
                    try:
                        conn, _ = self.sock.accept()
                    except BlockingIOError:
                        break
                    except OSError as e:
                        if e.errno in CAPACITY_ERRNOS:
                            await self._shed(e)
                        elif e.errno not in TRANSIENT_ERRNOS:
                            raise
                        break
                    if self.clients >= self.cap:
                        _turn_away(conn, f"the daemon serves {self.cap} clients, its limit; try again when one leaves")
                        continue
                    self._starved = None
                    self.clients += 1
                    nursery.start_soon(self._serve, conn)
                await trio.lowlevel.checkpoint()

    async def _serve(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(False)
            await self.serve_one(trio.SocketStream(trio.socket.from_stdlib_socket(conn)))
        finally:
            self.clients -= 1

    async def _shed(self, e: OSError) -> None:
        why = errno.errorcode.get(e.errno or 0, str(e.errno))
        if self._starved != why:
            self._starved = why
            log.warning("accept failed (%s): turning new clients away until descriptors free up", why)
            self.bus.log("warning", f"the daemon is out of descriptors ({why}): new clients are turned away until some leave")
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
        try:
            conn, _ = self.sock.accept()
        except OSError:
            await trio.sleep(0.05)  # nothing could be freed: the next try waits a little
        else:
            _turn_away(conn, "the daemon is out of descriptors; try again in a moment")
        self._spare = _spare()


def _spare() -> int | None:
    """A descriptor held back, given up to accept (and turn away) a client when there is no other."""
    try:
        return os.open(os.devnull, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None


def _turn_away(conn: socket.socket, why: str) -> None:
    """One ``too_many_clients`` frame (a fresh socket's buffer takes it at once), then closed."""
    try:
        conn.setblocking(False)
        conn.send(_busy_frame(why))
    except OSError:
        pass
    finally:
        conn.close()


class CutOff(Exception):
    """A client that stopped reading: its connection is closed, with the reason logged."""


class Connection:
    """One client: its stream, its decoder, and its subscription."""

    def __init__(self, stream: trio.abc.Stream, dispatch: Dispatch, bus: Bus, token: str | None,
                 limits: ServerSettings | None = None) -> None:
        self.stream = stream
        self.dispatch = dispatch
        self.bus = bus
        self.token = token
        self.limits = limits or ServerSettings()
        self.authenticated = token is None
        self.subscriber: Subscriber | None = None
        self._send_lock = trio.Lock()
        self._in_flight = trio.Semaphore(IN_FLIGHT)

    async def send(self, frame: dict[str, Any]) -> None:
        """Send one frame; a client that leaves it unread for ``send_timeout_s`` is cut off.

        Raises:
            FrameError: the frame is over the size limit (nothing was sent).
            CutOff: the client stopped reading.
        """
        data = encode(frame)
        async with self._send_lock:
            with trio.move_on_after(self.limits.send_timeout_s) as scope:
                await self.stream.send_all(data)
        if scope.cancelled_caught:
            raise CutOff(f"it left what the daemon sent unread for {self.limits.send_timeout_s:g} s")

    async def serve(self, version: str) -> None:
        """Talk to this client until it leaves; nothing it does can raise out of here."""
        try:
            async with trio.open_nursery() as nursery:
                await self.send(hello(version))
                last = await self._read_loop(nursery)
                # Every request read before the end (the client closed, or a bad frame followed)
                # gets its answer before the connection closes.
                with trio.move_on_after(DRAIN_S):
                    for _ in range(IN_FLIGHT):
                        await self._in_flight.acquire()
                if last is not None:
                    await self.send(last)
                nursery.cancel_scope.cancel()
        except* CutOff as group:
            log.warning("a client was cut off: %s", group.exceptions[0])
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

    def _deadline(self, opened: float, partial_since: float | None) -> float:
        """When the client must have sent more: its ``auth`` (TCP) within ``auth_timeout_s`` of
        connecting, a frame it began within ``frame_timeout_s``; an idle client between whole
        frames may stay."""
        deadline = math.inf
        if not self.authenticated:
            deadline = opened + self.limits.auth_timeout_s
        if partial_since is not None:
            deadline = min(deadline, partial_since + self.limits.frame_timeout_s)
        return deadline

    async def _read_loop(self, nursery: trio.Nursery) -> dict[str, Any] | None:
        """Read and start answering frames until the client leaves; the last frame to send it
        (an error that ends the connection), if any."""
        decoder = Decoder()
        opened, partial_since = trio.current_time(), None
        while True:
            with trio.move_on_at(self._deadline(opened, partial_since)) as waited:
                data = await self.stream.receive_some(READ_CHUNK if self.authenticated else PRE_AUTH_FRAME)
            if waited.cancelled_caught:
                why = "no auth" if not self.authenticated and partial_since is None else "a frame left half-sent"
                limit = self.limits.auth_timeout_s if why == "no auth" else self.limits.frame_timeout_s
                return error(None, "timeout", f"{why} within {limit:g} s: closing the connection")
            if not data:
                return None
            try:
                decoder.feed(data)
                for frame in decoder:
                    if (last := await self._handle(frame, nursery)) is not None:
                        return last
            except FrameError as e:
                return error(None, e.code, str(e))
            if not self.authenticated and decoder.pending > PRE_AUTH_FRAME:
                return error(None, "too_large", f"a frame before auth exceeds {PRE_AUTH_FRAME} bytes")
            if not decoder.pending:
                partial_since = None
            elif partial_since is None:
                partial_since = trio.current_time()

    async def _handle(self, frame: dict[str, Any], nursery: trio.Nursery) -> dict[str, Any] | None:
        """Answer one frame; the last frame to send when the connection must close."""
        if not self.authenticated:
            return await self._authenticate(frame)
        try:
            request = parse_request(frame)
        except ProtocolError as e:
            reply = error(frame_id(frame), e.code, e.message)
            if e.code in ("bad_frame", "too_large"):
                return reply
            await self.send(reply)
            return None
        if request.cmd == "subscribe":
            await self._subscribe(request, nursery)
            return None
        # Each request is answered by its own task, so a command that waits (learn waits for a pad)
        # never holds back a panic sent after it; the limiter bounds what one client can start.
        await self._in_flight.acquire()
        nursery.start_soon(self._answer, request)
        return None

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
                self.bus.log("error", f"internal error in {request.cmd}: {e}"[:MAX_MESSAGE])
                await self.send(error(request.id, "internal", f"internal error in {request.cmd}: {e}"))
                return
            try:
                await self.send(ok(request.id, result))
            except FrameError as e:
                await self.send(error(request.id, "too_large", f"the result of {request.cmd} cannot be sent: {e}"))
        finally:
            self._in_flight.release()

    async def _authenticate(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        args = frame.get("args")
        given = args.get("token") if frame.get("cmd") == "auth" and isinstance(args, dict) else None
        # Compared as bytes: compare_digest refuses str that is not ASCII, and any token a client
        # sends must get the same answer, in the same time.
        expected = (self.token or "").encode()
        if isinstance(given, str) and secrets.compare_digest(given.encode("utf-8", "surrogatepass"), expected):
            self.authenticated = True
            await self.send(ok(frame_id(frame) or 0, {}))
            return None
        return error(frame_id(frame), "unauthorized", "authenticate first with the daemon's token: auth {token}")

    async def _subscribe(self, request: Request, nursery: trio.Nursery) -> None:
        topics = request.args.topics  # type: ignore[attr-defined]
        if self.subscriber is not None:
            self.bus.unsubscribe(self.subscriber)
        self.subscriber = self.bus.subscribe(topics)
        await self.send(ok(request.id, SubscribeResult(topics=sorted(self.subscriber.topics)).model_dump(mode="json")))
        nursery.start_soon(self._forward, self.subscriber)

    async def _forward(self, sub: Subscriber) -> None:
        """Events to the client, as MPD does it: one that falls ``QUEUE`` events behind is cut off
        with a last ``log`` event saying why (what was queued for it is dropped, not kept)."""
        async with sub.receive:
            async for frame in sub.receive:
                if sub.overflowed.is_set():
                    break
                await self.send(frame)
        if sub.overflowed.is_set():
            why = f"events queued faster than this client read them ({QUEUE} behind): disconnecting; reconnect and call status"
            with trio.move_on_after(0.5):
                await self.send(event("log", {"level": "warning", "message": why}))
            raise CutOff(why)


async def serve(path: Path, dispatch: Dispatch, bus: Bus, version: str, limits: ServerSettings | None = None,
                *, task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED) -> None:
    """Accept clients until cancelled; ``task_status.started`` gets the socket path once listening."""
    limits = limits or ServerSettings()
    token = None
    if use_tcp():
        sock, token = open_tcp_listener(path)
    else:
        sock = await open_unix_listener(path)

    async def handler(stream: trio.SocketStream) -> None:
        await Connection(stream, dispatch, bus, token, limits).serve(version)

    acceptor = _Acceptor(sock, handler, bus, client_cap(limits))
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(acceptor.run)
            task_status.started(path)
    finally:
        sock.close()
        with trio.CancelScope(shield=True):
            for p in (path, token_file(path)):
                try:
                    if not use_tcp() or p != path:
                        p.unlink()
                except OSError as e:
                    if e.errno != errno.ENOENT:
                        log.warning("could not remove %s: %s", p, e)
