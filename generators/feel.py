"""Feel (baseline placeholder, replaced below)."""

from __future__ import annotations

from dataclasses import dataclass

from .grid import swing_amount
from .model import PipelineIntent
from .tables import tables


@dataclass(frozen=True, slots=True)
class Feel:
    swing: float
    grid: int
    human_ms: float
    lock: bool


def of(intent: PipelineIntent) -> Feel:
    g = tables().intent.genres[intent.genre.primary]
    style = tables().parts.drums.styles[g.drums]
    return Feel(0.5 + swing_amount(intent, style.swing) / 6, 120, 1.0, intent.genre.primary in ("trap", "drill", "boom-bap"))
