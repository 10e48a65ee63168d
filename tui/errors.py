"""The one error root of ``tui``: each error is one line a person reads in the log."""

from __future__ import annotations


class TuiError(Exception):
    """Something the TUI could not do."""


class InputError(TuiError, ValueError):
    """The input line is not a prompt or slash command the TUI understands."""


class NotConnected(TuiError, ConnectionError):
    """No daemon is attached (the client is retrying), or the connection went away mid-request."""


class RequestFailed(TuiError):
    """The daemon refused a request; ``code`` is the protocol's error code (docs/PROTOCOL.md)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
