"""A simulated language model for ``benchmarks.fake_llm.FakeLLMServer``: it answers every pipeline
stage validly, so the whole LLM pipeline can run deterministically, at any pace, with any fault.

It recognises the stage by the name of the ``response_format`` schema, reads the song's context back
from the prompt (``Project: {...}``, ``Length: N bars``, ``Track: {...}``, ``Clip: {...}``) and the
request's ``seed``, runs backbeat's algorithmic generators for that prompt and seed, and writes their
result in the stage's answer schema (``generators.llm.schemas``): the same plan and notes the
algorithmic pipeline would make, as a model would spell them. Answers stream at ``tokens_per_s``
after ``first_token_s``; ``shape`` may turn any answer into a fault (a status, a stall, other text).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mido

from backbeat.engine.time import PPQ
from backbeat.generators import sound
from backbeat.generators.arrangement import arrangement, chord_order
from backbeat.generators.harmony import progression
from backbeat.generators.intent import decompose, explicit_bars, explicit_key, explicit_tempo, scan
from backbeat.generators.model import Arrangement, Clip, Part, PipelineIntent, Progression, Track
from backbeat.generators.parts import PART_GENERATORS

from .fake_llm import Reply

Shape = Callable[[str, Reply, dict[str, Any]], Reply]
"""(stage schema name, the valid reply, the request body) -> the reply to send."""
SPANS = ("main", "first-half", "second-half", "tonic", "reverse", "bridge")


@lru_cache(maxsize=64)
def _plan(prompt: str, seed: int, bars: int | None) -> tuple[PipelineIntent, Progression, Arrangement]:
    intent = decompose(prompt, seed=seed, bars=bars)
    p = progression(intent, seed=seed)
    return intent, p, arrangement(intent, p, seed=seed)


@lru_cache(maxsize=256)
def _part(prompt: str, seed: int, bars: int | None, part: Part) -> Track:
    intent, p, a = _plan(prompt, seed, bars)
    return PART_GENERATORS[part](intent, p, a, seed=seed)


def _context(body: dict[str, Any]) -> tuple[dict[str, str], int]:
    """The ``Label: value`` lines of the first user message, and the request's seed."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    lines = {}
    for line in user.splitlines():
        label, sep, value = line.partition(": ")
        if sep and label not in lines:
            lines[label] = value
    return lines, int(body.get("seed") or 0)


def _bars(lines: dict[str, str]) -> int | None:
    m = re.search(r"\d+", lines.get("Length", ""))
    return int(m.group()) if m else None


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def intent_answer(prompt: str, seed: int) -> str:
    mentions = scan(prompt)
    intent = decompose(prompt, seed=seed)
    artists = [{"name": i.name, "genre": i.genre_mapping} for i in intent.influences
               if any(m.kind == "artist" and m.key == i.name for m in mentions)]
    root, mode = explicit_key(prompt)
    sections = [m.key for m in mentions if m.kind == "section"]
    answer: dict[str, Any] = {
        "artists": artists,
        "genres": list(dict.fromkeys(m.key for m in mentions if m.kind == "genre")),
        "moods": list(dict.fromkeys(m.key for m in mentions if m.kind == "mood")),
        "half_time": any(m.kind == "word" and m.key == "half-time" for m in mentions),
    }
    if (bpm := explicit_tempo(prompt)) is not None:
        answer["tempo_bpm"] = bpm
    if root or mode:
        answer["key"] = " ".join(x for x in (root, mode) if x)
    if (bars := explicit_bars(prompt)) is not None:
        answer["bars"] = bars
    if len(sections) >= 2:
        answer["sections"] = sections
    return _dump(answer)


def harmony_answer(p: Progression) -> str:
    return _dump({"name": p.name, "chords": [{"symbol": c.symbol, "degree": c.degree, "beats": c.beats} for c in p.chords], "bridge": p.bridge})


def arrangement_answer(a: Arrangement, chords: int, bridge: int = 0) -> str:
    return _dump({"sections": [
        {"kind": s.kind, "bars": s.bars, "energy": s.energy, "transition": s.transition,
         "tracks": [t for t in s.active_tracks if t not in s.enters],  # a pickup is the arrangement's rule, not the model's
         "harmony": next((h for h in SPANS if chord_order(h, chords, bridge) == s.chord_order), "main")}
        for s in a.sections
    ]})


def clip_answer(clip: Clip, bar_ticks: int, only: tuple[int, int] | None = None) -> str:
    """The clip as a ``ClipAnswer``; ``only``: just its bars first..last (1-based), as asked."""
    bars: list[dict[str, Any]] = [{"bar": b + 1, "notes": []} for b in range(clip.bars)]
    for n in clip.notes:
        bar, rest = divmod(n.tick, bar_ticks)
        beat, tick = divmod(rest, PPQ)
        note: dict[str, Any] = {"beat": beat + 1, "pitch": n.pitch, "vel": n.velocity, "len": round(n.duration / PPQ, 4)}
        if tick:
            note["tick"] = tick
        bars[bar]["notes"].append(note)
    if only is not None:
        bars = bars[only[0] - 1 : only[1]]
    return _dump({"bars": bars})


def _asked_bars(lines: dict[str, str]) -> tuple[int, int] | None:
    """The bars a clip request asks for when it asks for part of the clip ("Write: bars 5 to 8 of ...")."""
    m = re.match(r"bars (\d+) to (\d+) of", lines.get("Write", ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def clip_midi(clip: Clip, channel: int) -> bytes:
    """``clip`` as a format 0 Standard MIDI File at 480 per beat."""
    timed = sorted(
        [(n.tick, 1, mido.Message("note_on", channel=channel - 1, note=n.pitch, velocity=n.velocity)) for n in clip.notes]
        + [(n.tick + n.duration, 0, mido.Message("note_off", channel=channel - 1, note=n.pitch, velocity=64)) for n in clip.notes],
        key=lambda e: (e[0], e[1]),
    )
    track, now = mido.MidiTrack(), 0
    for tick, _, msg in timed:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=PPQ)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def preset_answer(intent: PipelineIntent, parts: list[Part]) -> str:
    picks = []
    for part in parts:
        choice = sound.preset(intent, part)
        pick = {"part": part, "instrument": choice.instrument, "reason": choice.reason}
        if choice.preset:
            pick["preset"] = choice.preset
        picks.append(pick)
    return _dump({"tracks": picks})


def effect_answer(intent: PipelineIntent, parts: list[Part]) -> str:
    return _dump({"chains": [
        {"part": part, "effects": [
            {"effect": slot.effect, "purpose": slot.purpose,
             "params": [{"name": p.name, "value": p.value, "unit": p.unit, **({"synced_to": p.synced_to} if p.synced_to else {})}
                        for p in slot.params]}
            for slot in sound.chain(intent, part, intent.tempo.bpm)
        ]}
        for part in parts
    ]})


def answer(stage: str, body: dict[str, Any]) -> str:
    """The valid answer of the algorithmic generators to ``body``, in the ``stage`` schema."""
    lines, seed = _context(body)
    if stage == "IntentAnswer":
        return intent_answer(json.loads(lines["Prompt"]), seed)
    if stage == "RouteAnswer":
        return _dump({"kind": "compose"})
    if stage == "Probe":  # the health check of generators.llm.probe
        return _dump({"ready": True})
    prompt = json.loads(lines["Project"])["prompt"]
    intent, p, a = _plan(prompt, seed, _bars(lines))
    if stage == "HarmonyAnswer":
        return harmony_answer(p)
    if stage == "ArrangementAnswer":
        return arrangement_answer(a, len(p.chords), p.bridge)
    tracks = [json.loads(v)["part"] for _, v in _track_lines(body)]
    if stage in ("ClipAnswer", "HexClipAnswer"):
        part = tracks[0]
        name = json.loads(lines["Clip"])["section"]
        index = next(i for i, s in enumerate(a.sections) if s.name == name)
        track = _part(prompt, seed, _bars(lines), part)
        clip = next(c for c in track.clips if c.section == index)
        if stage == "HexClipAnswer":
            return _dump({"midi": clip_midi(clip, track.channel).hex()})
        return clip_answer(clip, PPQ * 4 * a.meter.numerator // a.meter.denominator, _asked_bars(lines))
    if stage == "PresetAnswer":
        return preset_answer(intent, tracks)
    if stage == "EffectAnswer":
        return effect_answer(intent, tracks)
    raise ValueError(f"the simulated model knows no stage {stage!r}")


def _track_lines(body: dict[str, Any]) -> list[tuple[str, str]]:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return [tuple(line.split(": ", 1)) for line in user.splitlines() if line.startswith("Track: ")]


@dataclass(frozen=True)
class SimulatedModel:
    """The fake server's model: valid answers for every stage, paced like a real one."""

    first_token_s: float = 0.0
    tokens_per_s: float | None = None
    chars_per_token: int = 4
    shape: Shape | None = None
    """Fault injection: turn the valid reply for a stage into another (see ``Shape``)."""

    def reply(self, body: Any, stage: str | None = None) -> Reply:
        """The valid answer for the stage the request names (``stage``: as the server let the model
        see it); "ok" when no schema reached the model (a server that dropped it)."""
        text = answer(stage, body) if stage else "ok"
        valid = Reply(text=text, first_token_s=self.first_token_s, tokens_per_s=self.tokens_per_s,
                      chars_per_token=self.chars_per_token)
        return self.shape(stage or "", valid, body) if self.shape is not None else valid

