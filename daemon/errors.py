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


class RefusedError(DaemonError):
    """A command the daemon will not carry out, with one line saying why. Each subclass is one
    protocol error code; ``server`` maps them at the boundary (``REFUSALS``)."""


class InvalidRequestError(RefusedError, ValueError):
    """The request itself is wrong: an empty prompt, a change that cannot be made (``bad_args``)."""


class NotFoundError(RefusedError, LookupError):
    """The thing named does not exist: a section, a session folder, an alternative (``not_found``)."""


class ConflictError(RefusedError):
    """Not in the current state: no song loaded, a part not written yet, nothing to undo (``conflict``)."""


class UnavailableError(RefusedError):
    """A resource is missing: the engine is (re)starting, no controller input runs (``unavailable``)."""


class FailedError(RefusedError):
    """The command ran and failed: a refinement that could not be worked out, a learn that timed out
    (``failed``)."""


class BusyError(DaemonError, ConnectionError):
    """A daemon answers but takes no more clients now (its client cap, its descriptors, its backlog)."""


class UnsafeFolderError(DaemonError, PermissionError):
    """The runtime folder, the token file or the daemon's process is not the user's alone."""
