"""The one error root of ``generators``; each subclass also inherits the built-in it resembles."""


class GeneratorError(Exception):
    """Something in composing or writing a song went wrong."""


class BadRequestError(GeneratorError, ValueError):
    """The user's input cannot be used: an empty prompt, an impossible bar count, a bad key."""


class FileTooLargeError(BadRequestError):
    """A file read from outside (a session's, a config table, a MIDI file) is over its size limit."""


class ConfigError(GeneratorError, ValueError):
    """A table in ``config/`` (or the user's replacement for it) is missing or invalid."""


class MidiDataError(GeneratorError, ValueError):
    """MIDI data (a file, a hex string) is not valid Standard MIDI."""


class SessionError(GeneratorError, OSError):
    """A session folder cannot be written, read or resumed."""


class StageError(GeneratorError, RuntimeError):
    """A pipeline stage failed after all of its attempts."""


def first_error(group: BaseExceptionGroup) -> BaseException:
    """The first leaf error of a (possibly nested) group from a nursery: the one a person should
    read, instead of trio's "Exceptions from Trio nursery"."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
