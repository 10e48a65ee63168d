"""What the daemon remembers across restarts: the last session folder of each socket (in the user
state dir), so two daemons on two sockets each come back with their own song.

The file is ``{"sessions": {"<socket path>": "<session folder>"}}``, both absolute. A file written
before there was one entry per socket (``{"last_session": ...}``) counts as the default socket's.
"""

from __future__ import annotations

import json
from pathlib import Path

import platformdirs

from backbeat.generators.files import atomic_write


def state_file() -> Path:
    return Path(platformdirs.user_state_dir("backbeat")) / "daemon.json"


class Memory:
    def __init__(self, path: Path | None = None, *, socket: Path | None = None) -> None:
        self.path = path or state_file()
        self.socket = socket
        """Whose memory this is (None: one memory for every socket, as tests use it)."""

    def _key(self) -> str:
        return str(Path(self.socket).absolute()) if self.socket is not None else ""

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def last_session(self) -> Path | None:
        data = self._read()
        sessions = data.get("sessions") if isinstance(data.get("sessions"), dict) else {}
        folder = sessions.get(self._key())
        if folder is None and isinstance(data.get("last_session"), str) and self._is_default():
            folder = data["last_session"]
        return Path(folder) if isinstance(folder, str) and Path(folder).is_dir() else None

    def _is_default(self) -> bool:
        from .address import default_socket

        return self.socket is None or Path(self.socket).absolute() == default_socket().absolute()

    def remember(self, folder: Path) -> None:
        """Remember ``folder`` (made absolute) as this socket's last session."""
        data = self._read()
        sessions = data.get("sessions") if isinstance(data.get("sessions"), dict) else {}
        sessions[self._key()] = str(Path(folder).expanduser().resolve())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps({"sessions": sessions}, indent=2).encode())
