"""The live song's one owner, on a fake clock with the real player: changes made at once are one
history entry each and the folder ends up holding exactly the song in memory; a save that fails
keeps the song in memory and says so, and the next save writes what the folder missed."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from backbeat.daemon.bus import Bus
from backbeat.daemon.errors import ConflictError
from backbeat.daemon.player import Player
from backbeat.daemon.song import LiveSong
from backbeat.daemon.state import Memory
from backbeat.engine.commands import EngineConfig
from backbeat.generators import pipeline, session
from backbeat.generators.errors import SessionError
from backbeat.generators.settings import Settings
from tests.engine.fakes import FakeEngine


def with_live_song(tmp_path: Path, scenario) -> None:
    folder = trio.run(lambda: pipeline.run(pipeline.new_draft("boom bap with jazzy chords", seed=8, bars=16), tmp_path / "out"))

    async def main() -> None:
        player = Player(EngineConfig(), Bus(), engine_factory=FakeEngine.on(trio.current_time), clock=trio.current_time)
        live = LiveSong(player, Bus(), Settings(output_dir=tmp_path / "out"), Memory(tmp_path / "state.json"))
        async with trio.open_nursery() as nursery:
            await nursery.start(player.run)
            await nursery.start(live.run)
            await live.load(folder)
            player.play()
            await scenario(live, folder)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_changes_made_at_once_are_one_entry_each_and_the_folder_holds_the_song(tmp_path):
    async def three_at_once(live: LiveSong, folder: Path) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(live.regenerate, "bass")
            nursery.start_soon(live.refine, "drums busier")
            nursery.start_soon(live.set_tempo, 101.0)
        on_disk = session.load_song(folder)
        assert on_disk == live.song and not live.unsaved
        assert sorted(e.action for e in on_disk.history) == ["refine", "regenerate", "tempo"]
        assert all(e.snapshot and (folder / e.snapshot).exists() for e in on_disk.history), "each can be undone"
        assert on_disk.bpm == 101.0
        notes, _ = await live.undo()
        assert notes and session.load_song(folder) == live.song and len(live.song.history) == 4

    with_live_song(tmp_path, three_at_once)


def test_a_failed_save_keeps_the_song_in_memory_and_the_next_save_writes_it(tmp_path, monkeypatch):
    real = session.write
    failing = {"on": True}

    def write(*args, **kwargs):
        if failing["on"]:
            raise SessionError("cannot write: No space left on device")
        return real(*args, **kwargs)

    async def disk_full(live: LiveSong, folder: Path) -> None:
        monkeypatch.setattr(session, "write", write)
        made = await live.make_alternatives("lead", 2, asked=False)  # no history entry: a plain save
        assert live.unsaved and "No space left" in live.saver.error
        assert len(live.song.alternatives["lead"]) == len(made) and not session.load_song(folder).alternatives.get("lead")
        failing["on"] = False
        await live.save()
        assert not live.unsaved and live.saver.error is None
        assert session.load_song(folder) == live.song

    with_live_song(tmp_path, disk_full)


def test_a_part_not_written_yet_cannot_be_regenerated(tmp_path):
    async def skeleton(live: LiveSong, folder: Path) -> None:
        bare = live.song.model_copy(update={"tracks": [t for t in live.song.tracks if t.part != "lead"], "session_id": "session-x"})
        await live.begin(bare)
        with pytest.raises(ConflictError, match="lead part has not been written yet"):
            await live.regenerate("lead")
        assert live.folder is None, "a new session has no folder until its pipeline writes one"

    with_live_song(tmp_path, skeleton)
