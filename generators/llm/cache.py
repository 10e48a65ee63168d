"""A SQLite cache of final answers, keyed by everything that decides them.

The key is the SHA-256 of the server, model, messages, response format (the schema), temperature
and seed, serialised canonically; the value is the final text. sqlite3 blocks, so every call runs in
a worker thread (``trio.to_thread``) with its own short-lived connection, which also keeps sqlite3's
one-thread-per-connection rule. The cache is an optimisation: when the file cannot be read or
written, a warning is logged and the request goes to the server as if nothing were cached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs
import trio

log = logging.getLogger(__name__)

DEFAULT_PATH = Path(platformdirs.user_cache_dir("backbeat")) / "llm-cache.sqlite3"
"""Where the cache lives unless a path is given."""
KEY_VERSION = 1
"""Bumped when what goes into a key changes, so old entries are never misread."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


def cache_key(
    *,
    base_url: str,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    response_format: Mapping[str, Any] | None,
    temperature: float | None,
    seed: int | None,
) -> str:
    """The hex SHA-256 naming one request's answer; equal requests give equal keys."""
    material = {
        "v": KEY_VERSION,
        "base_url": base_url,
        "model": model,
        "messages": list(messages),
        "response_format": response_format,
        "temperature": temperature,
        "seed": seed,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Final answers on disk at ``path`` (created on first write)."""

    def __init__(self, path: Path = DEFAULT_PATH) -> None:
        self.path = path

    async def get(self, key: str) -> str | None:
        """The cached text for ``key``, or None."""
        return await trio.to_thread.run_sync(self._get, key)

    async def put(self, key: str, text: str, *, model: str) -> None:
        """Remember ``text`` as the answer for ``key`` (replacing any older one)."""
        await trio.to_thread.run_sync(self._put, key, text, model)

    def _get(self, key: str) -> str | None:
        if not self.path.exists():
            return None
        try:
            with self._connect() as con:
                row = con.execute("SELECT text FROM answers WHERE key = ?", (key,)).fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.warning("LLM cache %s unreadable, asking the server: %s", self.path, exc)
            return None
        return row[0] if row else None

    def _put(self, key: str, text: str, model: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                con.execute(
                    "INSERT OR REPLACE INTO answers (key, model, text, created_at) VALUES (?, ?, ?, ?)",
                    (key, model, text, time.time()),
                )
        except (sqlite3.Error, OSError) as exc:
            log.warning("LLM cache %s not written: %s", self.path, exc)

    def _connect(self) -> _Connection:
        return _Connection(self.path)


class _Connection:
    """A connection that commits on success and is always closed (sqlite3's own ``with`` only commits)."""

    def __init__(self, path: Path) -> None:
        # The daemon and a CLI run may share the file: wait for a lock rather than fail at once.
        self._con = sqlite3.connect(path, timeout=5.0)

    def __enter__(self) -> sqlite3.Connection:
        self._con.execute(_SCHEMA)
        return self._con

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self._con.commit()
        finally:
            self._con.close()
