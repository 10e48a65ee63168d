"""The one error root of ``daemon``."""


class DaemonError(Exception):
    """Something the daemon cannot do."""


class AlreadyRunningError(DaemonError, RuntimeError):
    """Another daemon answers on the socket."""


class NotRunningError(DaemonError, ConnectionError):
    """No daemon answers on the socket (clients)."""


class ClientError(DaemonError):
    """The daemon refused a request; ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BadClientInput(ClientError, ValueError):
    """The daemon refused a request as bad input (bad_args, not_found, unknown_command)."""
