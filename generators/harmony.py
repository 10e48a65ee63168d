"""Stage 2: the chord progression — a template for the genre and mode, extensions from the DNA,
colour from the genre and the creativity dial, a bridge of its own, then voicings led smoothly from
chord to chord.

Chords are stacked in the song's scale; the creativity dial may borrow a chord from a parallel mode
(within ``OUT_BUDGET`` of out-of-scale tones), and genres that call for it add chromatic colour —
secondary dominants, passing diminished chords, tritone substitutes, chromatic approach chords —
within their own budget (``colour``). A song whose form has a bridge gets a bridge progression
appended to the loop (``Progression.bridge`` counts its chords), chosen so that it moves in ways the
loop does not.
"""

from __future__ import annotations

import random

from . import colour
from .errors import BadRequestError
from .model import Chord, Key, PipelineIntent, Progression
from .rng import stream
from .tables import ProgressionTemplate, tables
from .theory import ChordShape, Planned, Scale, parse_degree, pitch_class, roman, scale_of, shape_of, stack, symbol

OUT_BUDGET = 0.04
"""Largest share of out-of-scale chord tones a borrowed chord may bring."""
UPPER = (55, 77)
"""Range of the voiced upper structure (G3..F5)."""
BASS_LOW = 40
"""Lowest note of a progression's bass voice (E2); the bass voice spans one octave from here."""
MAX_CHORDS = 16
"""The 4x4 pads of an MPC hold a progression."""
_MIXTURE = ("major", "minor", "dorian", "mixolydian", "harmonic minor", "lydian", "phrygian")

__all__ = ["BASS_LOW", "OUT_BUDGET", "Planned", "UPPER", "candidates", "chords_of", "in_key", "plan_of", "progression", "voice", "with_beats"]


def candidates(intent: PipelineIntent, role: str = "loop") -> list[ProgressionTemplate]:
    """Templates of ``role`` written for the song's mode that suit its genre, best-fitting first."""
    t = tables()
    genre_key = intent.genre.primary
    family = t.intent.genres[genre_key].family
    mode = intent.key.mode
    pool = [p for p in t.arrangement.progressions if p.role == role]
    for accept in (
        lambda p: mode in p.modes and (genre_key in p.families or family in p.families),
        lambda p: mode in p.modes,
        lambda p: t.theory.scales[mode].minor == any(t.theory.scales[m].minor for m in p.modes) and "*" in p.families,
    ):
        found = [p for p in pool if accept(p)]
        if found:
            return found
    if role != "loop":
        return []
    raise BadRequestError(f"no progression template fits {mode}")


def _choose(intent: PipelineIntent, rng: random.Random) -> ProgressionTemplate:
    dna = intent.genre.dna_vector
    weight = {"modal": 0.2 + dna.modal_color, "functional": 1.2 - dna.modal_color, "loop": 0.4 + dna.repetition, "blues": 0.5}
    pool = candidates(intent)
    own = [p for p in pool if intent.genre.primary in p.families]
    if len(own) >= 2:  # a genre with forms of its own (the blues, bossa nova) keeps to them
        pool = own
    weights = [weight[p.style] * (2.0 if p in own else 1.0) for p in pool]
    return rng.choices(pool, weights=weights)[0]


def _size(intent: PipelineIntent, rng: random.Random) -> int:
    """Tones per chord: 3 (triads) up to 6 (elevenths), from harmonic complexity and creativity."""
    c = intent.genre.dna_vector.harmonic_complexity
    base = 3 if c < 0.3 else 4 if c < 0.55 else 5 if c < 0.8 else 6
    h = intent.creativity_dials.harmonic
    roll = rng.random()
    return max(3, min(6, base + (roll < h * 0.35) - (roll > 1 - 0.1 * (1 - h))))


def _borrow(scale: Scale, chords: list[Planned], rng: random.Random, harmonic: float) -> list[Planned]:
    """Maybe swap one chord for its namesake from a parallel mode (IV -> iv, v -> V, ...)."""
    if rng.random() >= harmonic * 0.8 or len(chords) < 2:
        return chords
    slots = list(range(1, len(chords)))
    rng.shuffle(slots)
    for i in slots:
        p = chords[i]
        index, shift = parse_degree(p.degree)
        if shift:
            continue
        for mode in _MIXTURE:
            other = scale_of(scale.name(scale.tonic), mode)
            if other.degree_pc(index) != p.shape.root or mode == scale.mode:
                continue
            try:
                shape = stack(other, str(index + 1), len(p.shape.tones))
            except BadRequestError:
                continue
            if shape.quality == p.shape.quality:
                continue
            trial = [*chords[:i], Planned(p.degree, shape, p.beats, p.bass), *chords[i + 1 :]]
            if colour.out_share(scale, trial) <= OUT_BUDGET:
                return trial
    return chords


def _inversions(chords: list[Planned], rng: random.Random, harmonic: float) -> list[Planned]:
    """Use a chord's third as its bass where that turns a leap in the bass line into a step."""
    result = [chords[0]]
    for p in chords[1:]:
        prev = result[-1].bass
        leap = min((p.bass - prev) % 12, (prev - p.bass) % 12)
        third = p.shape.tones[1]
        step = min((third - prev) % 12, (prev - third) % 12)
        if leap > 2 and 0 < step <= 2 and rng.random() < harmonic * 0.6:
            p = Planned(p.degree, p.shape, p.beats, third)
        result.append(p)
    return result


def _upper_tones(shape: ChordShape) -> list[int]:
    """Pitch classes the upper structure voices: rootless above four tones, fifth dropped above that."""
    tones = list(shape.tones)
    if len(tones) > 4:
        tones = tones[1:]
    if len(tones) > 4:
        tones.pop(1)  # tones are root-less thirds stack: [3rd, 5th, 7th, 9th, ...]; the 5th is the weakest
    return tones


def _close_voicings(tones: list[int]) -> list[list[int]]:
    low, high = UPPER
    result = []
    for r in range(len(tones)):
        order = tones[r:] + tones[:r]
        for base in range(low, low + 12):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:]:
                nxt = notes[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                notes.append(nxt)
            for shift in (0, 12):
                voiced = [n + shift for n in notes]
                if voiced[-1] <= high:
                    result.append(voiced)
                if len(voiced) == 4 and voiced[2] - 12 >= low:  # drop 2: second from top down an octave
                    drop2 = sorted([*voiced[:2], voiced[2] - 12, voiced[3]])
                    if drop2[-1] <= high:
                        result.append(drop2)
    return result


def _movement(a: list[int], b: list[int]) -> int:
    if len(a) != len(b):
        return sum(min(abs(x - y) for y in b) for x in a) + 2
    return sum(abs(x - y) for x, y in zip(sorted(a), sorted(b)))


def voice(chords: list[Planned]) -> list[list[int]]:
    """Voicings (bass note + upper structure) with the least total movement from chord to chord."""
    voiced: list[list[int]] = []
    prev: list[int] | None = None
    for p in chords:
        options = _close_voicings(_upper_tones(p.shape))
        centre = sum(UPPER) / 2

        def cost(v: list[int]) -> float:
            spread = abs(sum(v) / len(v) - centre) * 0.5
            return spread + (_movement(v, prev) if prev else 0)

        upper = min(options, key=lambda v: (cost(v), v))
        prev = upper
        bass = BASS_LOW + (p.bass - BASS_LOW) % 12
        voiced.append([bass, *upper])
    return voiced


def _plan(intent: PipelineIntent, scale: Scale, template: ProgressionTemplate, rng: random.Random) -> list[Planned]:
    planned = []
    for i, degree in enumerate(template.degrees):
        beats = template.beats[i] if template.beats else 4
        if intent.tempo.half_time:
            beats = min(beats * 2, 32)
        shape = stack(scale, degree, _size(intent, rng))
        planned.append(Planned(degree, shape, beats, shape.root))
    return planned


def _moves(degrees: list[str], looped: bool) -> set[tuple[str, str]]:
    ring = degrees + degrees[:1] if looped else degrees
    return {(a, b) for a, b in zip(ring, ring[1:]) if a != b}


def wants_bridge(intent: PipelineIntent) -> bool:
    """Whether the song's form may have a bridge: the prompt names one, or one of the genre's
    arrangement templates has one."""
    if "bridge" in intent.duration.sections:
        return True
    genre = tables().intent.genres[intent.genre.primary]
    templates = tables().arrangement.templates
    return any(s.kind == "bridge" or s.harmony == "bridge" for key in (genre.arrangement, *genre.arrangements) for s in templates[key].sections)


def _bridge(intent: PipelineIntent, scale: Scale, loop: ProgressionTemplate, rng: random.Random) -> list[Planned]:
    """A bridge whose chord moves are mostly new to the loop (empty when no template is)."""
    pool = [b for b in candidates(intent, "bridge") if len(b.degrees) + len(loop.degrees) <= MAX_CHORDS - 4]
    seen = _moves(list(loop.degrees), True)
    own = [b for b in pool if len(_moves(list(b.degrees), False) - seen) * 2 > len(_moves(list(b.degrees), False)) or set(b.degrees) - set(loop.degrees)]
    if not own:
        return []
    return _plan(intent, scale, rng.choice(own), rng)


def progression(intent: PipelineIntent, *, seed: int, template: ProgressionTemplate | None = None) -> Progression:
    """The song's chord loop (and its bridge), at most 16 chords."""
    rng = stream(seed, "harmony")
    scale = scale_of(intent.key.root, intent.key.mode)
    template = template or _choose(intent, rng)
    planned = _plan(intent, scale, template, rng)
    bridge = _bridge(intent, scale, template, stream(seed, "harmony", "bridge")) if wants_bridge(intent) else []
    planned = _borrow(scale, planned, rng, intent.creativity_dials.harmonic)
    spec = tables().intent.genres[intent.genre.primary].harmony
    budget = max(OUT_BUDGET, spec.budget)
    paint = stream(seed, "harmony", "colour")
    planned = colour.colour(scale, planned, spec.colour, budget, MAX_CHORDS - len(bridge) - 2, paint)
    if bridge:
        bridge = colour.colour(scale, bridge, spec.colour, budget, MAX_CHORDS - len(planned), paint)
    planned = _inversions(planned, rng, intent.creativity_dials.harmonic)
    chords = chords_of(scale, planned + bridge)
    genre = tables().intent.genres[intent.genre.primary].name
    return Progression(
        name=f"{genre} - {template.name}", key=intent.key, chords=chords, style=template.style,
        template=template.name, degrees=[p.degree for p in planned + bridge], bridge=len(bridge),
    )


def chords_of(scale: Scale, planned: list[Planned]) -> list[Chord]:
    """Chords voiced smoothly, one after the other, from their plan."""
    chords = []
    for p, notes in zip(planned, voice(planned)):
        slash = p.bass if p.bass != p.shape.root else None
        chords.append(
            Chord(
                symbol=symbol(scale, p.shape, slash),
                root=scale.name(p.shape.root),
                quality=p.shape.quality,
                bass=scale.name(slash) if slash is not None else None,
                degree=roman(p.degree, p.shape),
                beats=p.beats,
                notes=notes,
            )
        )
    return chords


def plan_of(progression: Progression) -> list[Planned]:
    """The plan a progression was voiced from (degree, shape, beats, bass)."""
    planned = []
    for degree, chord in zip(progression.degrees, progression.chords):
        shape = shape_of(pitch_class(chord.root), chord.quality)
        bass = pitch_class(chord.bass) if chord.bass else shape.root
        planned.append(Planned(degree, shape, chord.beats, bass))
    return planned


def in_key(progression: Progression, key: Key) -> Progression:
    """``progression`` moved to ``key``: every chord rebuilt on its degree in the new scale (same
    number of tones, inversions kept as inversions) and voiced again; a chromatic chord (a quality
    the old key would not stack there) keeps its quality on the same degree."""
    old = scale_of(progression.key.root, progression.key.mode)
    scale = scale_of(key.root, key.mode)
    planned = []
    for p in plan_of(progression):
        index, shift = parse_degree(p.degree)
        try:
            diatonic = stack(old, p.degree, len(p.shape.tones)).quality == p.shape.quality
        except BadRequestError:
            diatonic = False
        if diatonic:
            shape = stack(scale, p.degree, len(p.shape.tones))
        else:
            shape = shape_of(scale.degree_pc(index) + shift, p.shape.quality)
        inverted = p.bass != p.shape.root
        planned.append(Planned(p.degree, shape, p.beats, shape.tones[1] if inverted else shape.root))
    return progression.model_copy(update={"key": key, "chords": chords_of(scale, planned)})


def with_beats(progression: Progression, factor: float) -> Progression:
    """Every chord ``factor`` times as long (half-time doubles them), at least one beat each."""
    chords = [c.model_copy(update={"beats": max(1, min(32, round(c.beats * factor)))}) for c in progression.chords]
    return progression.model_copy(update={"chords": chords})
