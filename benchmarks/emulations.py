"""How the known servers of config/servers.toml treat a request, for ``fake_llm.FakeLLMServer``:
which structured-output forms each refuses (and with what status and message), which it accepts but
drops the schema of, what its ``GET /v1/models`` says, and whether it decodes one request at a time
(cutting a second stream short, as llama-cpp-python does). With these the negotiation is tested
exactly and fast, against the behaviours measured on real servers.

``form_of`` and ``schema_name`` read a request the way a server (and the simulated model) would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from backbeat.generators.llm.negotiation import SCHEMA_NOTE


@dataclass(frozen=True)
class Emulation:
    """One server's behaviour."""

    owned_by: str
    """``owned_by`` of its ``GET /v1/models`` entries (how backbeat detects it)."""
    refuses: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Form -> (status, error message) it answers instead of an answer."""
    drops_schema: frozenset[str] = frozenset()
    """Forms it accepts but whose schema it ignores (the model never sees it)."""
    serial: bool = False
    """Decodes one request at a time; a stream that arrives meanwhile is cut to a role chunk and [DONE]."""
    detail_errors: bool = False
    """Errors come as FastAPI's ``{"detail": ...}`` instead of OpenAI's ``{"error": ...}``."""


LLAMA_CPP_PYTHON_REFUSAL = (
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}]"
)

EMULATIONS: dict[str, Emulation] = {
    "openai": Emulation(owned_by="system", drops_schema=frozenset({"json_object_schema"})),
    "ollama": Emulation(owned_by="library", drops_schema=frozenset({"json_object_schema"})),
    "llamacpp": Emulation(owned_by="llamacpp"),
    "llamacpp-2024": Emulation(  # builds before autumn 2024 (llama.cpp #9522)
        owned_by="llamacpp", refuses={"json_schema": (500, "response_format type must be one of \"text\" or \"json_object\"")}
    ),
    "llama-cpp-python": Emulation(
        owned_by="me", refuses={"json_schema": (500, LLAMA_CPP_PYTHON_REFUSAL)}, serial=True
    ),
    "vllm": Emulation(owned_by="vllm", drops_schema=frozenset({"json_object_schema"})),
    "lmstudio": Emulation(
        owned_by="organization_owner",
        refuses={f: (400, "'response_format.type' must be 'json_schema' or 'text'") for f in ("json_object", "json_object_schema")},
    ),
    "generic": Emulation(owned_by="someone"),
}
"""By the row names of config/servers.toml (plus an old llama.cpp build)."""


def form_of(body: Any) -> str:
    """Which structured-output form a request body asks in."""
    fmt = body.get("response_format") if isinstance(body, dict) else None
    if not isinstance(fmt, dict):
        return "text"
    if fmt.get("type") == "json_schema":
        return "json_schema"
    if fmt.get("type") == "json_object":
        return "json_object_schema" if isinstance(fmt.get("schema"), dict) else "json_object"
    return "text"


def schema_name(body: Any, emulation: Emulation | None = None) -> str | None:
    """The name of the answer model a request asks for, as the model behind ``emulation`` sees it:
    on the wire (unless the server drops it) or in the system prompt; None if it sees none."""
    if not isinstance(body, dict):
        return None
    form = form_of(body)
    fmt = body.get("response_format") or {}
    if not (emulation and form in emulation.drops_schema):
        if form == "json_schema":
            return (fmt.get("json_schema") or {}).get("name")
        if form == "json_object_schema":
            return fmt["schema"].get("title")
    system = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system"), "")
    if SCHEMA_NOTE in system:
        try:
            schema = json.loads(system.split(SCHEMA_NOTE, 1)[1].split("\n", 1)[1].strip())
            return schema.get("title") if isinstance(schema, dict) else None
        except (IndexError, ValueError):
            return None
    return None


def max_tokens(body: Any) -> int | None:
    value = body.get("max_tokens") if isinstance(body, dict) else None
    return value if isinstance(value, int) and value > 0 else None

