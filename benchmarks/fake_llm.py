"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

``FakeLLMServer`` speaks ``POST /v1/chat/completions`` (streamed as server-sent events ending in
``data: [DONE]``, or one JSON document when the request does not ask to stream) and ``GET /v1/models``.
Each request takes the next ``Reply`` from a queue (the ``default`` when it is empty), which says what
to answer and how badly: latency before the headers and before the first token, tokens per second,
an error status with headers (429 with ``Retry-After``), a stall, a dropped connection, a stream that
ends without ``[DONE]``, a server that ignores ``"stream": true``, keep-alive comments, a body
trickled a byte at a time, a body of many megabytes. Like every real server it honours
``max_tokens`` (the answer is cut there, ``finish_reason: "length"``). With ``emulate`` it behaves as
one of the known servers (``benchmarks.emulations``): the structured-output forms it refuses, the
schemas it drops, its ``/v1/models``, one request decoded at a time. Every request is recorded with
its headers and body, and the server counts the most requests it ever had in flight at once.

With a ``model`` (any object with ``reply(body) -> Reply``, such as ``benchmarks.simulated.SimulatedModel``)
requests the queue does not script are answered by it: a model that answers every pipeline stage
validly, at a chosen pace.

It runs ``http.server`` threads, so it keeps real time whatever clock the client's trio run uses.
Replies are paced on an absolute schedule (first token at t0, token n at t0 + n / rate), and every
wait ends early when the server closes, so a stalled reply never holds a test up.

    with FakeLLMServer(Reply(status=429, headers={"Retry-After": "1"}), Reply(text="hi")) as server:
        ... Settings(llm_base_url=server.url) ...
        assert len(server.requests) == 2
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from .emulations import EMULATIONS, Emulation, form_of, max_tokens, schema_name


@dataclass(frozen=True)
class Reply:
    """What the server does with one request."""

    text: str = "ok"
    """The answer's content, sent in tokens of ``chars_per_token`` characters."""
    status: int = 200
    """An error status (>= 400) sends an OpenAI-style error document instead of an answer."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra response headers, e.g. {"Retry-After": "1"}."""
    error: str = "scripted failure"
    """The error message of an error status."""
    headers_delay_s: float = 0.0
    """Silence before the status line: a server busy before it answers at all."""
    first_token_s: float = 0.0
    """Silence after the headers, before the first token."""
    ping_s: float | None = None
    """While waiting for the first token, send an SSE comment (":") this often, as llama-server does."""
    tokens_per_s: float | None = None
    """Pace of the tokens after the first; None sends them as fast as possible."""
    chars_per_token: int = 4
    stall_after: int | None = None
    """Go silent for ``stall_s`` after this many tokens (then carry on, if the client is still there)."""
    stall_s: float = 30.0
    drop_after: int | None = None
    """Close the connection after this many tokens, mid-body (no terminating chunk)."""
    finish: bool = True
    """Send the finish_reason chunk and ``[DONE]``; False ends the body cleanly without them."""
    stream: bool | None = None
    """None streams when the request asks to; False always answers with one JSON document."""
    trickle_s: float | None = None
    """Send the body one byte at a time, this many seconds apart (a peer that never quite stops)."""
    pad_bytes: int = 0
    """Send this many bytes of filler content after the text (a flood: 50 MB, as fast as it goes)."""
    cut_off: bool = False
    """End the stream after a role chunk with ``[DONE]``: no content, no finish reason (what a serial
    server does to a stream that waits behind another)."""

    def tokens(self) -> list[str]:
        n = max(1, self.chars_per_token)
        return [self.text[i : i + n] for i in range(0, len(self.text), n)]


class Model(Protocol):
    """Something that answers a request no scripted reply covers (called on the server's threads)."""

    def reply(self, body: Any, stage: str | None) -> Reply:
        """``stage``: the answer model's name as the model can see it (None: no schema reached it)."""


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: Any
    """The JSON body, parsed (None when there was none or it was not JSON)."""
    at: float
    """``time.monotonic()`` when the request had been read."""

    @property
    def schema(self) -> str | None:
        """The name of the answer model asked for (which stage is asking), in whatever form, if any."""
        return schema_name(self.body)

    @property
    def form(self) -> str:
        """The structured-output form it was asked in (``emulations.form_of``)."""
        return form_of(self.body)


class FakeLLMServer:
    """The server; use as a context manager (``__enter__`` starts it, ``__exit__`` stops it)."""

    def __init__(
        self, *replies: Reply, default: Reply | None = None, model: Model | None = None, emulate: str | None = None
    ) -> None:
        self.default = default or Reply()
        self.model = model
        """Answers what the queue does not script (instead of ``default``)."""
        self.emulation: Emulation | None = EMULATIONS[emulate] if emulate else None
        self.requests: list[Recorded] = []
        self.max_in_flight = 0
        self.cut_off = 0
        """Streams cut short because another was being answered (a serial server's behaviour)."""
        self._queue: deque[Reply] = deque(replies)
        self._in_flight = 0
        self._decoding = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        # A short poll interval: shutdown() waits for the serving loop to notice, once per interval.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-llm", daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL to configure as ``llm_base_url``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def script(self, *replies: Reply) -> None:
        """Queue more replies, answered in order."""
        with self._lock:
            self._queue.extend(replies)

    def __enter__(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()  # ends every scripted wait at once
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less when the server closes; True if it is closing."""
        return self._closing.wait(max(0.0, seconds))

    def pause_until(self, deadline: float) -> bool:
        return self.pause(deadline - time.monotonic())

    def _begin(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if self._queue:
                return self._queue.popleft()
        # Outside the lock: a simulated model composes its answer, and requests run in parallel.
        if self.model is None:
            return self.default
        return self.model.reply(request.body, schema_name(request.body, self.emulation))

    def refusal(self, body: Any) -> tuple[int, str] | None:
        """The error an emulated server answers this request with instead (a refused form)."""
        return self.emulation.refuses.get(form_of(body)) if self.emulation else None

    def start_decoding(self) -> bool:
        """Claim the (emulated, serial) decoder; False: it is busy, and this stream is cut off."""
        with self._lock:
            if self.emulation and self.emulation.serial and self._decoding:
                self.cut_off += 1
                return False
            self._decoding += 1
            return True

    def stop_decoding(self) -> None:
        with self._lock:
            self._decoding -= 1

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing a kept-alive connection (or giving up on a stalled answer) is routine.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, as real servers speak
    server: _Server
    _counted = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            entry = {"id": "test-model", "object": "model"}
            if (emulation := self.server.fake.emulation) is not None:
                entry["owned_by"] = emulation.owned_by
            self._send_json(200, {"object": "list", "data": [entry]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = fake._begin(Recorded("POST", self.path, headers, body, time.monotonic()))
        self._counted = True
        try:
            if fake.pause(reply.headers_delay_s):
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            elif (refused := fake.refusal(body)) is not None:
                status, message = refused
                doc = {"detail": message} if fake.emulation.detail_errors else {"error": {"message": message, "type": "invalid_request_error"}}
                self._send_json(status, doc)
            elif reply.status >= 400:
                error = {"message": reply.error, "type": "scripted", "code": reply.status}
                self._send_json(reply.status, {"error": error}, reply.headers)
            elif reply.stream is not False and isinstance(body, dict) and body.get("stream"):
                self._stream(fake, reply, body)
            else:
                self._complete(fake, reply, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on this request (a stall, a cancel): nothing to clean up
        finally:
            self._done()

    def _done(self) -> None:
        """Stop counting this request as in flight: called before its last bytes go out, so a client
        can never see an answer end, start another request, and find the server counting both."""
        if self._counted:
            self._counted = False
            self.server.fake._end()

    def _stream(self, fake: FakeLLMServer, reply: Reply, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        model = body.get("model", "test-model")
        if reply.cut_off or not fake.start_decoding():  # a role chunk, then [DONE]: cut before it began
            self._event(_chunk(model, {"role": "assistant"}, None))
            self._event("[DONE]")
            self._done()
            self.wfile.write(b"0\r\n\r\n")
            return
        try:
            self._stream_tokens(fake, reply, body, model)
        finally:
            fake.stop_decoding()

    def _stream_tokens(self, fake: FakeLLMServer, reply: Reply, body: dict[str, Any], model: str) -> None:
        t0 = time.monotonic() + reply.first_token_s
        if reply.ping_s:
            while (ping := time.monotonic() + reply.ping_s) < t0:
                if fake.pause_until(ping):
                    return
                self._write_chunk(b":\n\n")
        tokens, finish = _limited(reply.tokens(), max_tokens(body))
        stall_end = 0.0
        for i, token in enumerate(tokens):
            if reply.drop_after is not None and i == reply.drop_after:
                self._drop()
                return
            if reply.stall_after is not None and i == reply.stall_after:
                if fake.pause(reply.stall_s):
                    return
                stall_end = reply.stall_s  # later tokens keep their spacing, shifted by the stall
            due = t0 + stall_end + (i / reply.tokens_per_s if reply.tokens_per_s else 0.0)
            if fake.pause_until(due):
                return
            delta = {"role": "assistant", "content": token} if i == 0 else {"content": token}
            if self._event(_chunk(model, delta, None), reply.trickle_s):
                return
        if reply.pad_bytes:
            filler = json.dumps(_chunk(model, {"content": "x" * 65536}, None))
            for _ in range(reply.pad_bytes // 65536):
                self._write_chunk(f"data: {filler}\n\n".encode())
        self._done()
        if reply.finish:
            self._event(_chunk(model, {}, finish))
            self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def _complete(self, fake: FakeLLMServer, reply: Reply, body: Any) -> None:
        tokens, finish = _limited(reply.tokens(), max_tokens(body))
        pace = len(tokens) / reply.tokens_per_s if reply.tokens_per_s else 0.0
        if fake.pause(reply.first_token_s + pace):
            return
        model = body.get("model", "test-model") if isinstance(body, dict) else "test-model"
        message = {"role": "assistant", "content": "".join(tokens) + "x" * reply.pad_bytes}
        doc = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if reply.trickle_s is None:
            self._send_json(200, doc, reply.headers)
            return
        data = json.dumps(doc).encode()
        self._done()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self._trickle(data, reply.trickle_s, chunked=False)

    def _event(self, payload: Any, trickle_s: float | None = None) -> bool:
        """Send one event (byte by byte with ``trickle_s``); True if the server is closing."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        data = f"data: {text}\n\n".encode()
        if trickle_s is None:
            self._write_chunk(data)
            return False
        return self._trickle(data, trickle_s, chunked=True)

    def _trickle(self, data: bytes, every_s: float, *, chunked: bool) -> bool:
        for i in range(len(data)):
            if self.server.fake.pause(every_s):
                return True
            if chunked:
                self._write_chunk(data[i : i + 1])
            else:
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
        return False

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        self._done()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send_json(self, status: int, doc: Any, headers: Mapping[str, str] | None = None) -> None:
        self._done()
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _limited(tokens: list[str], limit: int | None) -> tuple[list[str], str]:
    """The tokens a server sends under ``max_tokens``, and the finish reason it gives."""
    if limit is not None and len(tokens) > limit:
        return tokens[:limit], "length"
    return tokens, "stop"


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
