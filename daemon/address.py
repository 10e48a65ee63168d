"""Where the daemon listens, shared by the server and every client (no trio import, so the blocking
CLI client and the TUI's asyncio client use it as they are), and the checks that make that place
the user's own.

The socket lives in a folder only its user can change: ``private_folder`` creates it 0700 and
verifies it before the server binds there and before a client connects, ``check_peer`` verifies the
process at the other end of a connection (``SO_PEERCRED``), and ``write_private``/``read_private``
handle the TCP token file without following a link or trusting a file someone else planted.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import sys
import warnings
from pathlib import Path

from .errors import UnsafeFolderError


def default_socket() -> Path:
    """``BACKBEAT_SOCKET``, else ``backbeat.sock`` in the user runtime folder."""
    env = os.environ.get("BACKBEAT_SOCKET")
    if env:
        return Path(env)
    import platformdirs  # only here: a client given BACKBEAT_SOCKET never needs it

    # No XDG_RUNTIME_DIR (a container, a cron job): platformdirs falls back to a folder in the shared
    # temporary directory. That is not trusted as it is: private_folder verifies it (and every
    # folder above it) before anything is bound or connected there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir("backbeat")) / "backbeat.sock"


def token_file(socket_path: Path) -> Path:
    """Where a TCP daemon writes "port token", next to where its socket would be."""
    return socket_path.with_suffix(".token")


def use_tcp() -> bool:
    """Windows (or ``BACKBEAT_TRANSPORT=tcp``): loopback TCP with a token instead of a Unix socket."""
    return sys.platform == "win32" or os.environ.get("BACKBEAT_TRANSPORT") == "tcp"


# --- a folder no one else can change ----------------------------------------------------------------


def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None


def _refuse(folder: Path, why: str) -> UnsafeFolderError:
    return UnsafeFolderError(f"refusing the runtime folder {folder}: {why}")


def _check_ancestors(folder: Path) -> None:
    """Every folder above ``folder`` is the user's or root's, and one another user can write to
    only when it is sticky (like /tmp): no one else can move ``folder`` aside."""
    uid = _uid()
    for parent in Path(os.path.realpath(folder.parent)).parents[::-1] + (Path(os.path.realpath(folder.parent)),):
        st = os.stat(parent)
        if st.st_uid not in (0, uid):
            raise _refuse(folder, f"{parent} above it belongs to uid {st.st_uid}")
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            raise _refuse(folder, f"{parent} above it is writable by others (mode {stat.S_IMODE(st.st_mode):04o})")


def check_folder(folder: Path) -> None:
    """``folder`` is a real folder (not a symlink), owned by this user, mode 0700 (no access for
    anyone else), below folders no one else can rename it in.

    Raises:
        UnsafeFolderError: it is not (one line naming it and why), or it does not exist.
    """
    if os.name != "posix":
        return  # Windows: the per-user profile folder's ACL is the guard
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        raise _refuse(folder, "it does not exist") from None
    except OSError as e:
        raise _refuse(folder, e.strerror or str(e)) from None
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(folder, "it is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(folder, "it is not a folder")
    if st.st_uid != _uid():
        raise _refuse(folder, f"it belongs to uid {st.st_uid}, not to you (uid {_uid()})")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise _refuse(folder, f"its mode is {stat.S_IMODE(st.st_mode):04o}, not 0700")
    _check_ancestors(folder)


def private_folder(folder: Path) -> Path:
    """Create ``folder`` (and any missing folder above it) with mode 0700 unless it exists, then
    verify it (``check_folder``): the only place the daemon binds its socket or writes its token.

    Raises:
        UnsafeFolderError: it cannot be made, or it is not the user's alone.
    """
    missing = [p for p in (folder, *folder.parents) if not os.path.lexists(p)]
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # made meanwhile: the check below decides
        except OSError as e:
            raise _refuse(folder, f"cannot create {path}: {e.strerror or e}") from None
    check_folder(folder)
    return folder


# --- the process at the other end -------------------------------------------------------------------


def check_peer(sock: socket.socket, path: Path) -> None:
    """The process serving ``sock`` runs as this user (Linux ``SO_PEERCRED``; elsewhere the
    folder's check stands alone).

    Raises:
        UnsafeFolderError: it runs as another user.
    """
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None or sock.family != getattr(socket, "AF_UNIX", None):
        return
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
    if uid != _uid():
        raise UnsafeFolderError(f"refusing the daemon on {path}: it runs as uid {uid}, not as you (uid {_uid()})")


# --- the token file ---------------------------------------------------------------------------------


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file ``path`` (0600) in a verified folder: a stale regular file of
    this user's is removed first; anything else there (a link, another user's file) is refused,
    and a file that appears meanwhile is never followed nor written through.

    Raises:
        UnsafeFolderError: the folder or what is at ``path`` is not this user's alone.
    """
    private_folder(path.parent)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(st.st_mode) or st.st_uid != _uid():
            what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else f"a file of uid {st.st_uid}" if stat.S_ISREG(st.st_mode) else "not a file"
            raise UnsafeFolderError(f"refusing to write {path}: it is {what}; remove it if that is safe")
        os.unlink(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UnsafeFolderError(f"refusing to write {path}: a file appeared there while it was being written") from None
    with os.fdopen(fd, "w") as out:
        out.write(text)


def read_private(path: Path, limit: int = 4096) -> str:
    """The text of a file only this user can read or change (the token file), at most ``limit`` bytes.

    Raises:
        UnsafeFolderError: the file or its folder is not the user's alone.
        OSError: it cannot be read (no daemon wrote it).
    """
    check_folder(path.parent)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as file:
        if os.name == "posix":
            st = os.fstat(file.fileno())
            if st.st_uid != _uid() or stat.S_IMODE(st.st_mode) & 0o077:
                raise UnsafeFolderError(f"refusing {path}: it belongs to uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):04o} (must be yours, 0600)")
        return file.read(limit).decode("utf-8", "replace")
