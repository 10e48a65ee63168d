"""Writing files so that a crash leaves either the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from .errors import FileTooLargeError, SessionError


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file in the same folder, fsync, rename, fsync folder.

    The temp file is created with mode 0o666 so the umask applies as for any new file (mkstemp
    would leave 0o600), and it is removed again when anything fails.

    Raises:
        SessionError: the file cannot be written (an ``OSError`` too, with one clear line).
    """
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except OSError as error:
        raise SessionError(f"cannot write {path}: {error.strerror or error}") from error
    _fsync_directory(path.parent)


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, a file read from outside (a session's, a config table, a MIDI file),
    refused once it is over ``limit`` bytes: read while counting, so a huge or endless file never
    takes the memory.

    Raises:
        OSError: it cannot be read.
        FileTooLargeError: it is over the limit (a ValueError: bad input).
    """
    with open(path, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(f"{path} is over {_size(limit)}: not a file backbeat reads")
    return data


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n / 1024:g} KiB"


CONFIG_FILE_LIMIT = 4 << 20
"""Bytes of a config file read (a table, a drum map, a controller map, settings.toml): the largest
shipped table is under 200 kB."""
MIDI_FILE_LIMIT = 16 << 20
"""Bytes of a MIDI file read from outside (a 1,024-bar song's parts are well under 1 MiB)."""


LEFTOVER = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp$")
"""The name of ``atomic_write``'s temporary file: ``.NAME.PID-HEX.tmp``."""


def clean_leftovers(folder: Path, subfolders: tuple[str, ...] = ()) -> list[Path]:
    """Remove the temporary files that writes killed midway left in ``folder`` (and its
    ``subfolders``): those of processes no longer running. The ones removed."""
    removed = []
    for where in (folder, *(folder / s for s in subfolders)):
        try:
            names = os.listdir(where)
        except OSError:
            continue
        for name in names:
            match = LEFTOVER.match(name)
            if match is None or _running(int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                os.unlink(where / name)
                removed.append(where / name)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True  # a write of this process's may be under way
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone's process: not ours to judge
    return True


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (POSIX only; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    # The file is already in place; a filesystem that cannot fsync a directory (some network
    # mounts answer EINVAL) must not turn a good write into an error.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
