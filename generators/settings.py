"""Settings: ``config/settings.toml`` defaults, overridden by the user's settings file, ``.env``
and the environment (highest wins: environment > .env > user file > shipped file)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .errors import FileTooLargeError
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
        # Later files override earlier ones: the user's file wins over the shipped defaults.
        files = [p for p in (CONFIG_DIR / "settings.toml", USER_CONFIG_DIR / "settings.toml") if p.is_file()]
        for path in files:  # read whole by the TOML source: refused first if it is far too big to be one
            if path.stat().st_size > CONFIG_FILE_LIMIT:
                raise FileTooLargeError(f"{path} is over {CONFIG_FILE_LIMIT >> 20} MiB: not a settings file")
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=files),
        )


@cache
def settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
