"""What the daemon remembers across restarts: the last session folder (in the user state dir)."""

from __future__ import annotations

import json
from pathlib import Path

import platformdirs

from backbeat.generators.files import atomic_write


def state_file() -> Path:
    return Path(platformdirs.user_state_dir("backbeat")) / "daemon.json"


class Memory:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_file()

    def last_session(self) -> Path | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        folder = data.get("last_session") if isinstance(data, dict) else None
        return Path(folder) if isinstance(folder, str) and Path(folder).is_dir() else None

    def remember(self, folder: Path) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps({"last_session": str(folder)}).encode())
