"""Which structured-output form a server takes, for ``backbeat doctor`` and the benchmarks.

``structured_output_form`` answers from the cache database when a run has already negotiated with
this base URL and model; otherwise (with ``ask``) it sends one tiny structured request, which
negotiates exactly as a run would (and remembers the result for the next run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import trio

from backbeat.generators.settings import Settings

from .client import LLMClient
from .config import known_servers
from .errors import LLMError, LLMResponseError, quoted
from .negotiation import FORM_LABELS, ServerProfile
from .schemas import Answer

PROBE_SYSTEM = "Answer the health check of a music tool with the JSON object the schema asks for."


class Probe(Answer):
    """The answer to a health check."""

    ready: bool
    """Always true."""


@dataclass(frozen=True, slots=True)
class FormReport:
    """What ``backbeat doctor`` prints about a server's structured output."""

    server: str
    """The row of config/servers.toml."""
    label: str
    form: str
    form_label: str
    serial: bool
    origin: Literal["memory", "asked", "detected", "configured"]
    """memory: negotiated by an earlier run; asked: negotiated now; detected/configured: not asked,
    the row's strongest form."""
    error: str | None = None
    """Why asking failed (the form is then the one the request was last sent in)."""

    @classmethod
    def of(cls, profile: ServerProfile, origin: str, error: str | None = None) -> FormReport:
        return cls(profile.server, known_servers()[profile.server].label, profile.form, FORM_LABELS[profile.form],
                   profile.serial, origin, error)  # type: ignore[arg-type]

    def line(self) -> str:
        """One line for a person: "llama-cpp-python takes json_object + schema (negotiated now)"."""
        how = {"memory": "remembered from an earlier run", "asked": "negotiated now",
               "detected": "from its row, not asked", "configured": "from LLM_SERVER, not asked"}[self.origin]
        line = f"{self.label} takes {self.form_label} ({how})"
        if self.serial:
            line += "; one request at a time"
        return line + (f"; asking failed: {self.error}" if self.error else "")


async def structured_output_form(settings: Settings, *, ask: bool = True, timeout_s: float = 30.0) -> FormReport:
    """The structured-output form the configured server takes (see the module docstring).

    Never raises an ``LLMError``: a server that cannot be asked is reported with ``error``.
    """
    async with LLMClient(settings, notify=lambda _line: None) as llm:
        deadline = trio.current_time() + timeout_s
        profile = await llm.profile(deadline)
        if profile.origin == "memory" or not ask:
            return FormReport.of(profile, profile.origin)
        error = None
        try:
            await llm.structured_result(Probe, PROBE_SYSTEM, "Is the server ready?", max_tokens=24,
                                        no_cache=True, deadline=deadline)
        except LLMResponseError:
            pass  # the form was accepted; what the model wrote is not the question here
        except LLMError as e:
            error = quoted(e, 160)
        return FormReport.of(await llm.profile(), "asked", error)
