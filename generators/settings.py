"""Settings: ``config/settings.toml`` defaults, overridden by the user's settings file, ``.env``
and the environment (highest wins: environment > .env > user file > shipped file).

A mistake is one ``ConfigError`` line naming where it is: a settings file's key that is not a
setting (file, line, and the nearest setting), or a value that does not fit (file and line, or the
environment variable, and the field). Paths expand ``~`` as a shell does.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .errors import ConfigError, FileTooLargeError
from .files import CONFIG_FILE_LIMIT

CONFIG_DIR = Path(str(resources.files("backbeat.config")))
"""The tables and defaults shipped with backbeat (package data: config/ in a checkout, backbeat/config
in an installed wheel; installs are unzipped, so it is a real folder)."""
USER_CONFIG_DIR = Path(platformdirs.user_config_dir("backbeat"))
"""Where a user's own settings.toml and replacement tables live."""


class PlaybackSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    commit_horizon_ms: Annotated[float, Field(ge=20, le=2000)] = 200.0
    """How far ahead of the playhead events are handed to the engine; beyond it, all can change."""
    midi_api: Literal["auto", "alsa", "jack", "coremidi", "winmm", "monitor"] = "auto"
    client_name: str = "backbeat"
    """MIDI client name of the virtual output port."""
    port_name: str = "out"
    """Name of the virtual output port."""
    drum_maps: dict[str, str] = {}
    """Drum map per output port, by port name substring (e.g. {"loopMIDI" = "mpc-legacy"}); ports
    not named here play ``drum_map``."""
    link: bool = False
    """Join an Ableton Link session (needs the ``link`` extra); off unless asked for."""
    link_start_stop: bool = False
    """With Link: start and stop with the session's transport (Link's start/stop sync)."""


class ServerSettings(BaseModel):
    """The daemon's socket: how many clients, and how long a client may keep it waiting."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    max_clients: Annotated[int, Field(ge=1, le=4096)] = 64
    """Clients connected at once; one more is answered "too many clients" and closed. The daemon
    lowers it further to keep descriptors for the engine and the session files (``reserve_fds``)."""
    reserve_fds: Annotated[int, Field(ge=16, le=4096)] = 64
    """Descriptors never given to clients: an engine restart and the session's writes need them."""
    frame_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    """Seconds a client may leave a frame half-sent before its connection is closed."""
    auth_timeout_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    """(TCP) Seconds from connecting to a good ``auth`` before the connection is closed."""
    send_timeout_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    """Seconds a client may leave a reply or event unread before it is cut off."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
    )

    llm_api_key: SecretStr | None = None
    """Key for an OpenAI-compatible server; with neither this nor llm_base_url, generation is algorithmic."""
    llm_model: str = "gpt-4o-mini"
    llm_base_url: str = ""
    """e.g. http://127.0.0.1:11434/v1 for Ollama; empty means the hosted default."""
    output_dir: Path = Path("output")
    """Where session folders are written."""
    max_concurrent_requests: Annotated[int, Field(ge=1, le=64)] = 4
    requests_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 60
    llm_timeout_s: Annotated[float, Field(gt=0, le=600)] = 60.0
    """Seconds from sending a request to the answer's first content (connecting and the server's
    prompt reading included; keep-alive comments do not count)."""
    llm_request_s: Annotated[float, Field(gt=0, le=3600)] = 180.0
    """Seconds one request may take in all, from sending it to the last byte of the answer."""
    llm_stall_s: Annotated[float, Field(gt=0, le=600)] = 20.0
    """Seconds without new content, once an answer has started, before the attempt is abandoned."""
    llm_budget_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    """Seconds the model may spend on one ``backbeat generate`` run; what is left then is composed
    by the algorithmic stages (recorded as ``budget`` in the manifest)."""
    llm_live_budget_s: Annotated[float, Field(gt=0, le=86_400)] = 600.0
    """Seconds the model may spend on one song in the daemon (the drafts play meanwhile)."""
    llm_server: str = "auto"
    """Which known server (config/servers.toml) LLM_BASE_URL is: auto detects it."""
    llm_max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    """HTTP attempts per LLM request, the first included, on 429, 5xx, timeouts, stalls and drops."""
    llm_cache: bool = True
    """Reuse identical earlier LLM answers from the SQLite cache in the user cache dir."""
    llm_cache_path: Path | None = None
    """The SQLite file of that cache; None: ``llm-cache.sqlite3`` in the user cache dir."""
    llm_part_format: Literal["json", "hex"] = "json"
    """How the model writes a part's clip: a JSON note list, or a MIDI file as hex (the seed's mode)."""
    stage_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    """Attempts per pipeline stage before it fails (or falls back to the algorithmic stage)."""
    drum_map: str = "gm"
    """The drum map (config/drum_maps) new sessions' files are written for, and live playback's."""
    undo_depth: Annotated[int, Field(ge=1, le=100_000)] = 256
    """Changes a session folder keeps what it takes to undo (older ones stay listed in the history)."""
    playback: PlaybackSettings = PlaybackSettings()
    server: ServerSettings = ServerSettings()

    def __init__(self, **values: object) -> None:
        files = settings_files()
        for path in files:  # read whole: refused first if it is far too big to be a settings file
            if path.stat().st_size > CONFIG_FILE_LIMIT:
                raise FileTooLargeError(f"{path} is over {CONFIG_FILE_LIMIT >> 20} MiB: not a settings file")
            check_keys(path)
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise ConfigError(describe(e, files)) from None

    @field_validator("output_dir", "llm_cache_path", mode="after")
    @classmethod
    def _home(cls, path: Path | None) -> Path | None:
        return None if path is None else path.expanduser()

    @property
    def llm_configured(self) -> bool:
        return self.llm_api_key is not None or bool(self.llm_base_url)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=settings_files()),
        )


def settings_files() -> list[Path]:
    """The settings files that exist, lowest first: the user's file wins over the shipped defaults."""
    return [p for p in (CONFIG_DIR / "settings.toml", USER_CONFIG_DIR / "settings.toml") if p.is_file()]


def _line_of(text: str, table: str, key: str) -> int | None:
    """The 1-based line where ``key`` is set under ``[table]`` ("" for the top level) of a TOML text."""
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if header := re.fullmatch(r"\[\s*([^\]]+?)\s*\]\s*(#.*)?", stripped):
            current = header.group(1)
        elif current == table and re.match(rf"[\"']?{re.escape(key)}[\"']?\s*=", stripped):
            return number
    return None


def _where(path: Path, table: str, key: str) -> str:
    try:
        line = _line_of(path.read_text(encoding="utf-8"), table, key)
    except OSError:
        line = None
    return f"{path}:{line}" if line else str(path)


def check_keys(path: Path) -> None:
    """Refuse a settings file with a key that is not a setting, naming the nearest one.

    Raises:
        ConfigError: the file does not parse, or has an unknown key (file:line, the key, the fix).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from None
    tables: list[tuple[str, dict, type[BaseModel]]] = [("", data, Settings)]
    while tables:
        table, values, model = tables.pop()
        for key, value in values.items():
            field = model.model_fields.get(key)
            if field is None:
                known = sorted(model.model_fields)
                near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"did you mean {near[0]!r}?" if near else f"the settings{' of [' + table + ']' if table else ''} are: {', '.join(known)}"
                name = f"{table}.{key}" if table else key
                raise ConfigError(f"{_where(path, table, key)}: {name!r} is not a setting; {hint}")
            inner = field.annotation
            if isinstance(value, dict) and isinstance(inner, type) and issubclass(inner, BaseModel):
                tables.append((f"{table}.{key}" if table else key, value, inner))


def describe(error: ValidationError, files: list[Path]) -> str:
    """The first problem of ``error`` as one line: where the value came from (the environment
    variable, or the settings file and line that set it last), the field, and what is wrong."""
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"]]
    field = ".".join(loc) or "settings"
    table, key = ".".join(loc[:-1]), loc[-1] if loc else ""
    source = None
    if len(loc) == 1 and loc[0].upper() in os.environ:
        source = f"the environment variable {loc[0].upper()}"
    else:
        for path in reversed(files):  # the last file that sets it is the one whose value counts
            where = _where(path, table, key)
            if where != str(path):
                source = where
                break
    value = f" (got {first['input']!r})" if "input" in first and not isinstance(first["input"], dict) else ""
    return f"{source or 'settings (.env or the environment)'}: {field}: {first['msg']}{value}"


@cache
def settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
