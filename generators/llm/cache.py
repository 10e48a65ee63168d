"""A SQLite cache of final answers, keyed by everything that decides them, and in the same file
what each server was found to take (``ProfileStore``).

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

from .config import FORMS, known_servers
from .negotiation import ServerProfile

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
);
CREATE TABLE IF NOT EXISTS servers (
    base_url TEXT NOT NULL,
    model TEXT NOT NULL,
    server TEXT NOT NULL,
    form TEXT NOT NULL,
    serial INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (base_url, model)
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


class _Store:
    """One SQLite file, read and written in worker threads; failures are warnings, never errors."""

    def __init__(self, path: Path = DEFAULT_PATH) -> None:
        self.path = path

    def _read(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if not self.path.exists():
            return None
        try:
            with _Connection(self.path) as con:
                return con.execute(sql, args).fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.warning("LLM cache %s unreadable, asking the server: %s", self.path, exc)
            return None

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _Connection(self.path) as con:
                con.execute(sql, args)
        except (sqlite3.Error, OSError) as exc:
            log.warning("LLM cache %s not written: %s", self.path, exc)


class ResponseCache(_Store):
    """Final answers on disk at ``path`` (created on first write)."""

    async def get(self, key: str) -> str | None:
        """The cached text for ``key``, or None."""
        row = await trio.to_thread.run_sync(self._read, "SELECT text FROM answers WHERE key = ?", (key,))
        return row[0] if row else None

    async def put(self, key: str, text: str, *, model: str) -> None:
        """Remember ``text`` as the answer for ``key`` (replacing any older one)."""
        sql = "INSERT OR REPLACE INTO answers (key, model, text, created_at) VALUES (?, ?, ?, ?)"
        await trio.to_thread.run_sync(self._write, sql, (key, model, text, time.time()))


class ProfileStore(_Store):
    """What each server (base URL and model) was found to take, so the next run starts there."""

    async def get(self, base_url: str, model: str) -> ServerProfile | None:
        sql = "SELECT server, form, serial FROM servers WHERE base_url = ? AND model = ?"
        row = await trio.to_thread.run_sync(self._read, sql, (base_url, model))
        if row is None:
            return None
        server, form, serial = row
        if server not in known_servers() or form not in FORMS:
            return None  # written by another version of the tables: detect again
        return ServerProfile(server, form, bool(serial), "memory")

    async def put(self, base_url: str, model: str, profile: ServerProfile) -> None:
        sql = "INSERT OR REPLACE INTO servers (base_url, model, server, form, serial, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        args = (base_url, model, profile.server, profile.form, int(profile.serial), time.time())
        await trio.to_thread.run_sync(self._write, sql, args)


class _Connection:
    """A connection that commits on success and is always closed (sqlite3's own ``with`` only commits)."""

    def __init__(self, path: Path) -> None:
        # The daemon and a CLI run may share the file: wait for a lock rather than fail at once.
        self._con = sqlite3.connect(path, timeout=5.0)

    def __enter__(self) -> sqlite3.Connection:
        self._con.executescript(_SCHEMA)
        return self._con

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self._con.commit()
        finally:
            self._con.close()
