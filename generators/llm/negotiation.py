"""Structured-output negotiation without I/O: which server this is, which form of structured output
to ask in, what a request in that form looks like, and where to step down to after a refusal.

Servers differ (config/servers.toml): OpenAI, Ollama, vLLM and LM Studio take ``response_format``
``json_schema``; llama-cpp-python refuses it with a 500 and takes ``json_object`` with a ``schema``;
some take ``json_object`` alone. The client starts at the form remembered for the base URL and model
(``cache.ProfileStore``), else at the strongest form the detected server's row lists, and steps down
``FORMS`` on a refusal that names the request format. Forms without a schema on the wire, and forms
a server is not known to enforce, carry the schema in the system prompt too, so even plain text asks
for the right JSON (and the answer is validated whatever the server did).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from .config import FORMS, Form, ServerRow, known_servers

FORM_LABELS: dict[Form, str] = {
    "json_schema": "json_schema",
    "json_object_schema": "json_object + schema",
    "json_object": "json_object with the schema in the prompt",
    "text": "plain text with the schema in the prompt",
}
"""How a line a producer reads names each form."""


@dataclass(frozen=True, slots=True)
class ServerProfile:
    """What the client knows about the server behind one base URL and model."""

    server: str
    """The row of config/servers.toml (``generic`` when none matched)."""
    form: Form
    """The form of structured output to ask in."""
    serial: bool = False
    """The server decodes one request at a time (from its row, or seen: a cut-off stream)."""
    origin: Literal["memory", "detected", "configured"] = "detected"
    """Where ``server`` came from: the cache database, detection, or ``LLM_SERVER``."""

    @property
    def label(self) -> str:
        return known_servers()[self.server].label


def response_format(form: Form, model: type[BaseModel]) -> dict[str, Any] | None:
    """The ``response_format`` asking in ``form`` for JSON matching ``model`` (None: plain text).

    Not strict mode: strict mode accepts only a subset of JSON Schema (every property required) and
    our models have fields with defaults; what comes back is validated here whatever the server did.
    """
    schema = model.model_json_schema()
    if form == "json_schema":
        name = re.sub(r"[^A-Za-z0-9_-]", "_", model.__name__)[:64]
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}
    if form == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    if form == "json_object":
        return {"type": "json_object"}
    return None


def schema_in_prompt(form: Form, row: ServerRow) -> bool:
    """Whether requests in ``form`` carry the schema in the system prompt: when the form puts none
    on the wire, or the server is not known to enforce it there (Ollama, for one, drops the
    ``schema`` of a ``json_object`` request; a server no row describes may drop anything)."""
    return form in ("json_object", "text") or form not in row.enforced


SCHEMA_NOTE = "The answer's JSON schema"
"""How the system prompt introduces a schema carried in the prompt (the line after it is the schema)."""


def with_schema(messages: list[dict[str, str]], model: type[BaseModel]) -> list[dict[str, str]]:
    """``messages`` with ``model``'s JSON schema appended to the system prompt."""
    schema = json.dumps(model.model_json_schema(), separators=(",", ":"))
    note = f"\n{SCHEMA_NOTE} (answer with one JSON object that matches it):\n{schema}"
    first, *rest = messages
    return [{**first, "content": first["content"] + note}, *rest]


def step_down(form: Form) -> Form | None:
    """The next weaker form after a refusal of ``form``; None after plain text."""
    i = FORMS.index(form)
    return FORMS[i + 1] if i + 1 < len(FORMS) else None


def starting_form(row: ServerRow) -> Form:
    return row.forms[0]


def detect(base_url: str, models: Any = None, headers: Mapping[str, str] | None = None) -> str:
    """The row of config/servers.toml that ``base_url`` (and, when the server answered them, its
    ``GET /v1/models`` document and response headers) points at; ``generic`` if none.

    Clues, strongest first: the models' ``owned_by``, the ``Server`` header, the host, the port.
    """
    rows = known_servers()
    owners = set()
    if isinstance(models, Mapping) and isinstance(models.get("data"), list):
        owners = {m.get("owned_by") for m in models["data"] if isinstance(m, Mapping)}
    server = (headers or {}).get("server", "").lower()
    parts = urlsplit(base_url)
    host, port = (parts.hostname or "").lower(), parts.port
    clues = (
        lambda row: bool(owners & set(row.owned_by)),
        lambda row: any(h.lower() in server for h in row.server_header) if server else False,
        lambda row: host in row.hosts,
        lambda row: port in row.ports if port is not None else False,
    )
    for matches in clues:
        found = [name for name, row in rows.items() if name != "generic" and matches(row)]
        if len(found) == 1:
            return found[0]
    return "generic"
