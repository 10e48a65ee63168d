"""Where the daemon listens, shared by the server and every client (no trio import, so the blocking
CLI client and the TUI's asyncio client use it as they are)."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path


def default_socket() -> Path:
    """``BACKBEAT_SOCKET``, else ``backbeat.sock`` in the user runtime folder."""
    env = os.environ.get("BACKBEAT_SOCKET")
    if env:
        return Path(env)
    import platformdirs  # only here: a client given BACKBEAT_SOCKET never needs it

    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR (a container, a cron job): its fallback is fine
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir("backbeat")) / "backbeat.sock"


def token_file(socket_path: Path) -> Path:
    """Where a TCP daemon writes "port token", next to where its socket would be."""
    return socket_path.with_suffix(".token")


def use_tcp() -> bool:
    """Windows (or ``BACKBEAT_TRANSPORT=tcp``): loopback TCP with a token instead of a Unix socket."""
    return sys.platform == "win32" or os.environ.get("BACKBEAT_TRANSPORT") == "tcp"
