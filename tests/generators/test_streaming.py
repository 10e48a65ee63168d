"""The pipeline reports what it makes as it lands (``Listener``), and the live run goes on with a
model's backend as the same run (``generators.live.compose_live``)."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import trio

from backbeat.generators import parts, pipeline
from backbeat.generators.live import LiveListener, compose_live, plays_alike
from backbeat.generators.model import PARTS


class Recorder(LiveListener):
    """Every report, in order, as (what, detail)."""

    def __init__(self, accept: bool = True) -> None:
        self.heard: list[tuple[str, object]] = []
        self.accept = accept
        self.offered: pipeline.Draft | None = None
        self.done: pipeline.Draft | None = None

    def progress(self, p: pipeline.Progress) -> None:
        self.heard.append(("progress", (p.stage, p.status)))

    async def intent(self, draft):
        assert draft.intent is not None and draft.progression is None
        self.heard.append(("intent", None))

    async def plan(self, draft):
        assert draft.progression is not None and draft.arrangement is not None and not draft.tracks
        self.heard.append(("plan", None))

    async def track(self, draft, track):
        assert draft.arrangement is not None
        self.heard.append(("track", track.part))

    async def sound(self, draft):
        assert all(t.preset is not None for t in draft.tracks)
        self.heard.append(("sound", None))

    async def song(self, draft):
        draft.song()  # whole
        self.heard.append(("song", None))

    async def model_plan(self, plan):
        self.offered = plan
        self.heard.append(("model_plan", len(plan.tracks)))
        return self.accept

    def clip(self, part, clip):
        self.heard.append(("clip", part))

    async def model_song(self, done):
        self.done = done
        self.heard.append(("model_song", None))


def landed(r: Recorder) -> list[tuple[str, object]]:
    return [h for h in r.heard if h[0] != "progress"]


def test_each_stage_reports_what_it_made_as_it_lands():
    r = Recorder()
    draft = trio.run(lambda: pipeline.compose_async(pipeline.new_draft("lofi study beats", seed=3, bars=16), listener=r))
    heard = landed(r)
    assert heard[:2] == [("intent", None), ("plan", None)]
    assert sorted(p for what, p in heard[2:6]) == sorted(PARTS) and all(what == "track" for what, _ in heard[2:6])
    assert heard[6:] == [("sound", None), ("song", None)]
    progress = [h[1] for h in r.heard if h[0] == "progress"]
    # every report comes after its stage's progress line says it is done, before the next starts
    assert r.heard.index(("plan", None)) == r.heard.index(("progress", ("arrangement", "done"))) + 1
    assert progress[-1] == ("assembly", "done")
    assert [t.part for t in draft.tracks] == list(PARTS)


def test_a_retried_parts_stage_reports_its_parts_again(monkeypatch):
    calls = {"n": 0}
    real = parts.PART_GENERATORS["lead"]

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("no melody today")
        return real(*args, **kwargs)

    monkeypatch.setitem(parts.PART_GENERATORS, "lead", flaky)
    r = Recorder()
    trio.run(lambda: pipeline.compose_async(pipeline.new_draft("pop song", seed=2, bars=8), listener=r))
    retry = r.heard.index(("progress", ("parts", "retry")))
    before = [p for what, p in r.heard[:retry] if what == "track"]
    after = [p for what, p in r.heard[retry:] if what == "track"]
    assert "lead" not in before and sorted(after) == sorted(PARTS), "the retry's parts are reported, all four"


def _backend(listener: Recorder, *, other_plan: bool):
    """A stand-in for the model: the algorithmic stages (another progression when ``other_plan``),
    its parts reported clip by clip as a model backend does."""

    async def harmony(d):
        return await pipeline.algorithmic("harmony", d.model_copy(update={"seed": d.seed + (1 if other_plan else 0)}))

    async def parts_stage(d):
        done = await pipeline.algorithmic("parts", d)
        for t in done.tracks:
            for c in t.clips:
                listener.clip(t.part, c.model_copy(update={"source": "llm"}))
        return done

    return {"harmony": harmony, "parts": parts_stage}


def _live(listener: Recorder, *, other_plan: bool, backend: bool = True) -> pipeline.Draft:
    draft = pipeline.new_draft("deep house in A minor", seed=5, bars=16)
    model = (lambda: nullcontext(_backend(listener, other_plan=other_plan))) if backend else None
    return trio.run(lambda: compose_live(draft, listener, model=model))


def test_without_a_backend_the_live_run_is_the_algorithmic_song():
    r = Recorder()
    song = _live(r, other_plan=False, backend=False)
    assert landed(r)[-1] == ("song", None) and r.offered is None
    assert song.song() == pipeline.compose_sync("deep house in A minor", seed=5, bars=16).model_copy(update={"session_id": song.session_id})


def test_the_model_pass_is_the_same_run_its_clips_reported_as_they_land():
    r = Recorder()
    done = _live(r, other_plan=False)
    heard = landed(r)
    song_at = heard.index(("song", None))
    assert heard[song_at + 1] == ("model_plan", 0), "the same plan: the song's own parts serve"
    clips = [h for h in heard[song_at + 2:] if h[0] == "clip"]
    assert clips and heard[-1] == ("model_song", None) and r.done is done
    assert len(clips) == sum(len(t.clips) for t in done.tracks)


def test_a_different_plan_is_offered_with_parts_and_a_refusal_ends_the_run():
    r = Recorder(accept=False)
    result = _live(r, other_plan=True)
    assert landed(r)[-1] == ("model_plan", len(PARTS))
    offered = r.offered
    assert not plays_alike(offered, result) and [t.part for t in offered.tracks] == list(PARTS)
    assert all(t.preset is not None and t.effects for t in offered.tracks), "a whole song: instruments and effects too"
    assert "clip" not in {what for what, _ in r.heard}, "the model wrote no clips for a plan nobody wanted"


@pytest.mark.parametrize("other_plan", [False, True])
def test_an_accepted_plan_runs_to_the_models_song(other_plan):
    r = Recorder()
    done = _live(r, other_plan=other_plan)
    assert landed(r)[-1] == ("model_song", None)
    assert plays_alike(done, r.offered)


def test_a_model_opened_for_the_run_opens_only_once_the_algorithmic_song_is_whole():
    # the daemon's model client costs a TLS context (0.2 s under load): never before the first note
    from contextlib import asynccontextmanager

    r = Recorder()
    opened: list[int] = []

    @asynccontextmanager
    async def model():
        opened.append(len(landed(r)))
        yield _backend(r, other_plan=False)
        r.heard.append(("closed", None))

    draft = pipeline.new_draft("deep house in A minor", seed=5, bars=16)
    done = trio.run(lambda: compose_live(draft, r, model=model))
    heard = landed(r)
    assert opened == [heard.index(("song", None)) + 1], "opened right after the algorithmic song landed"
    assert ("model_song", None) in heard and heard[-1] == ("closed", None), "the model's pass ran inside it"
    assert done.stages and r.done is done

    r2 = Recorder()
    trio.run(lambda: compose_live(pipeline.new_draft("deep house in A minor", seed=5, bars=16), r2, model=nullcontext))
    assert landed(r2)[-1] == ("song", None) and r2.offered is None, "no model configured: the algorithmic song"
