"""The four part generators as one table, and the one way to call them.

``generate`` writes one part for a plan: anything with the song's intent, progression and
arrangement (a pipeline ``Draft`` while the stages run, a ``SongState`` once the song is whole).
``regenerate`` writes a song's part again from new parameters and versions what changed: a clip whose
notes came out as they were keeps its version, so only real changes count as new versions.
"""

from __future__ import annotations

from collections.abc import Callable

from .bass import bass
from .chords import chords
from .context import Plan
from .drums import drums
from .melody import lead
from .model import Part, PartParams, SongState, Track
from .tables import tables

PartGenerator = Callable[..., Track]
"""``(intent, progression, arrangement, *, seed, params=None) -> Track``: pure, same seed same part."""

PART_GENERATORS: dict[Part, PartGenerator] = {"drums": drums, "bass": bass, "chords": chords, "lead": lead}


def generate(plan: Plan, part: Part, *, seed: int, params: PartParams | None = None) -> Track:
    """``part`` of ``plan``, written by its generator (with its own default parameters when ``params`` is None)."""
    given = {} if params is None else {"params": params}
    return PART_GENERATORS[part](plan.intent, plan.progression, plan.arrangement, seed=seed, **given)


def regenerate(song: SongState, part: Part, params: PartParams) -> Track:
    """``song``'s ``part`` written again from ``params`` (the song's seed): the track keeps its name,
    channel, instrument and effects, and drum lanes a request took out stay out; clips whose notes
    changed get the next version."""
    old = song.track(part)
    fresh = silenced_track(generate(song, part, seed=song.seed, params=params).model_copy(update={"silenced": old.silenced}))
    version = max((c.version for c in old.clips), default=0) + 1
    before = {(c.section, c.start_bar, c.bars): c for c in old.clips}
    clips = []
    for c in fresh.clips:
        same = before.get((c.section, c.start_bar, c.bars))
        clips.append(same if same is not None and same.notes == c.notes else c.model_copy(update={"version": version}))
    return old.model_copy(update={"params": params, "clips": clips})


def silenced_track(track: Track) -> Track:
    """``track`` without the notes of its silenced drum lanes."""
    if not track.silenced:
        return track
    gm = tables().parts.drums.gm
    pitches = {gm[lane] for lane in track.silenced if lane in gm}
    clips = [clip.model_copy(update={"notes": [n for n in clip.notes if n.pitch not in pitches]}) for clip in track.clips]
    return track.model_copy(update={"clips": clips})
