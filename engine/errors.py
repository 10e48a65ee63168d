"""The one error root of ``engine``; each subclass also inherits the built-in it resembles.

The CLI maps ``ValueError`` to exit code 2 (the user asked for something impossible: a port that
does not exist, a virtual port on Windows) and everything else to exit code 1.
"""

from __future__ import annotations


class EngineError(Exception):
    """Something in the real-time engine went wrong."""


class BadCommandError(EngineError, ValueError):
    """A command to the engine is malformed (a negative tick, an impossible tempo, a bad message)."""


class PortError(EngineError):
    """A MIDI port could not be listed, opened or used."""


class PortNotFoundError(PortError, ValueError):
    """No port matches the name the user gave; the message lists the ports that exist."""


class VirtualPortUnsupportedError(PortError, ValueError):
    """The MIDI API cannot create virtual ports (Windows): the user must name an existing port."""


class NoMidiApiError(PortError, RuntimeError):
    """No MIDI API is usable on this machine; the message says why and how to fix it."""


class ServerLostError(PortError, RuntimeError):
    """The MIDI server (JACK) went away under a running engine, which then ends: its owner starts
    a new one when the server is back."""


class EngineDiedError(EngineError, RuntimeError):
    """The engine process exited or stopped answering."""


class EngineStartError(EngineError, RuntimeError):
    """The engine process failed to start (or did not report ready in time)."""


class LinkUnavailableError(EngineError, RuntimeError):
    """Ableton Link was asked for but its module (the ``link`` extra) is not installed."""


BY_NAME: dict[str, type[EngineError]] = {
    cls.__name__: cls
    for cls in (
        EngineError,
        BadCommandError,
        PortError,
        PortNotFoundError,
        VirtualPortUnsupportedError,
        NoMidiApiError,
        ServerLostError,
        EngineDiedError,
        EngineStartError,
        LinkUnavailableError,
    )
}
"""Error classes by name: the engine process reports a fault by name, the client re-raises it."""
