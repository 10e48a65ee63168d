"""The envelope of every frame (docs/PROTOCOL.md): greeting, request, response, event.

Plain dicts and no imports beyond the standard library, so a thin client (``backbeat status``, a
foot-switch script) speaks the protocol without paying for pydantic: argument and payload models
live in ``protocol``, which the daemon and the TUI use.
"""

from __future__ import annotations

from typing import Any

PROTOCOL = 1
"""Version of the protocol; the greeting carries it and a client refuses any other."""
MAX_MESSAGE = 1000
"""Characters of an error message sent; a longer one is cut (it is one line for a person)."""


def hello(version: str) -> dict[str, Any]:
    return {"type": "hello", "protocol": PROTOCOL, "version": version}


def request(request_id: int, cmd: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A client's request frame."""
    return {"type": "request", "id": request_id, "cmd": cmd, "args": args or {}}


def ok(request_id: int, result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response", "id": request_id, "ok": True, "result": result}


def error(request_id: int | None, code: str, message: str) -> dict[str, Any]:
    """An error response; a ``message`` over ``MAX_MESSAGE`` characters is cut, never dropped."""
    if len(message) > MAX_MESSAGE:
        message = f"{message[: MAX_MESSAGE - 30]}… ({len(message)} characters, cut)"
    return {"type": "response", "id": request_id, "ok": False, "error": {"code": code, "message": message}}


def event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "event": name, "data": data}


def frame_id(frame: object) -> int | None:
    """The request id of a frame, when it has a usable one (for error replies to bad frames)."""
    if isinstance(frame, dict) and type(frame.get("id")) is int:
        return frame["id"]
    return None
