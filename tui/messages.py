"""Textual messages the socket client posts into the app: the connection's life and the daemon's events.

The client only posts these; the app routes them to widgets. Each carries plain decoded data
(the maps of docs/PROTOCOL.md), so a widget renders exactly what the daemon said.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class Connected(Message):
    """Attached (again) to a daemon: subscribed to every event, with a fresh ``status``."""

    def __init__(self, version: str, status: dict[str, Any]) -> None:
        super().__init__()
        self.version = version
        """The daemon's package version, from its greeting."""
        self.status = status
        """The result of ``status`` taken right after subscribing: the full current state."""


class Disconnected(Message):
    """No daemon attached; the client retries by itself."""

    def __init__(self, reason: str, retry_in: float, first: bool) -> None:
        super().__init__()
        self.reason = reason
        """One line: why the connection failed or ended."""
        self.retry_in = retry_in
        """Seconds until the next attempt."""
        self.first = first
        """True for the first failure after a connection (or at start), False for later retries."""


class DaemonEvent(Message):
    """One event frame: ``{"event": name, "data": data}``."""

    def __init__(self, name: str, data: dict[str, Any]) -> None:
        super().__init__()
        self.name = name
        self.data = data
