"""The LLM backend's tables: ``config/servers.toml`` (the known servers) and ``config/llm.toml`` (how
many tokens each answer may take, and the musical floor a model's clip must pass).

Read once through ``generators.tables.load`` (so a user's replacement file in their config folder
wins, and must validate the same way), then shared read-only.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import Field, model_validator

from backbeat.generators.errors import ConfigError
from backbeat.generators.model import Part
from backbeat.generators.tables import Table, load

Form = Literal["json_schema", "json_object_schema", "json_object", "text"]
"""A way of asking for structured output (config/servers.toml explains each)."""
FORMS: tuple[Form, ...] = ("json_schema", "json_object_schema", "json_object", "text")
"""Every form, strongest first: negotiation only ever steps down this list."""


class ServerRow(Table):
    """One known server."""

    label: str
    forms: Annotated[list[Form], Field(min_length=1)]
    """Forms it accepts, strongest first; the first is where a run with no memory starts."""
    enforced: list[Form] = []
    """Forms whose schema it enforces while decoding."""
    parallel: Annotated[int, Field(ge=0)] = 0
    """Requests it decodes at once by default; 0: no known limit."""
    streaming: str
    models: str
    errors: str
    owned_by: list[str] = []
    """``owned_by`` values of its ``GET /v1/models`` entries."""
    server_header: list[str] = []
    """Substrings of its ``Server`` response header."""
    hosts: list[str] = []
    ports: list[int] = []
    """Its default ports (the weakest clue: several servers share 8000)."""
    source: str

    @model_validator(mode="after")
    def _ordered(self) -> ServerRow:
        if list(self.forms) != sorted(self.forms, key=FORMS.index):
            raise ValueError(f"forms must be listed strongest first: {', '.join(FORMS)}")
        return self


class ServerTable(Table):
    servers: dict[str, ServerRow]

    @model_validator(mode="after")
    def _generic(self) -> ServerTable:
        if "generic" not in self.servers:
            raise ValueError("a row named generic (the server no other row matches) is required")
        return self


class ClipTokens(Table):
    base: Annotated[int, Field(ge=0)]
    per_bar: Annotated[int, Field(ge=0)]
    per_note: Annotated[int, Field(ge=1)]
    headroom: Annotated[float, Field(ge=1.0)]
    min_notes_per_bar: Annotated[int, Field(ge=0)]
    max: Annotated[int, Field(ge=16)]
    hex_factor: Annotated[float, Field(ge=1.0)]
    rounds: Annotated[int, Field(ge=1, le=8)]


class TokenTable(Table):
    default: Annotated[int, Field(ge=16)]
    schemas: dict[str, Annotated[int, Field(ge=16)]]
    clip: ClipTokens


class Floor(Table):
    min_ratio: Annotated[float, Field(gt=0)]
    max_ratio: Annotated[float, Field(gt=1)]
    max_notes_per_bar: dict[Part, Annotated[int, Field(ge=1)]]


class LLMTables(Table):
    tokens: TokenTable
    floor: Floor


@cache
def known_servers() -> dict[str, ServerRow]:
    """config/servers.toml's rows by name."""
    return load(ServerTable, "servers").servers


@cache
def llm_tables() -> LLMTables:
    return load(LLMTables, "llm")


def server_row(name: str) -> ServerRow:
    """The row called ``name``.

    Raises:
        ConfigError: no such row (the message lists the known ones).
    """
    rows = known_servers()
    if name not in rows:
        raise ConfigError(f"LLM_SERVER={name} is not a known server: use auto or one of {', '.join(rows)}")
    return rows[name]


def max_tokens_for(schema: str | None) -> int:
    """``max_tokens`` of a request for the answer model named ``schema`` (None: a text answer)."""
    tokens = llm_tables().tokens
    return tokens.schemas.get(schema, tokens.default) if schema else tokens.default
