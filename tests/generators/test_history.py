"""Bounded history: an entry keeps what its change replaced, not the whole song, so 100 refinements
of a 64-bar session grow its folder by about the size of the parts they changed; going back is
exact, byte for byte, all the way to the original; ``undo_depth`` caps what can be undone; files
that killed writes left behind are gone at the next change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backbeat.generators import revisions, session
from backbeat.generators.errors import BadRequestError, FileTooLargeError
from backbeat.generators.model import SongState

from .songs import fresh_copy, session_folder

REQUESTS = ("bass busier", "drums simpler", "bass simpler", "drums busier", "lead busier", "lead simpler", "chords busier", "chords simpler")


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_folder(tmp_path_factory.mktemp("sessions"), "deep house in A minor", seed=11, bars=64)


@pytest.fixture
def folder(original: Path, tmp_path: Path) -> Path:
    return fresh_copy(original, tmp_path)


def files(folder: Path) -> dict[str, bytes]:
    """Every file a producer uses (the history and the manifest's timestamps aside), and the song
    state without its history."""
    out = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
           if p.is_file() and "history" not in p.parts and p.name not in (session.STATE, session.MANIFEST)}
    state = json.loads((folder / session.STATE).read_bytes())
    out["state"] = json.dumps({k: v for k, v in state.items() if k != "history"}, sort_keys=True).encode()
    return out


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def changed_parts_bytes(before: SongState, after: SongState) -> int:
    """The size of the parts a change touched, as the song holds them (their tracks' JSON)."""
    old = {t.part: t for t in before.tracks}
    return sum(len(t.model_dump_json()) for t in after.tracks if old.get(t.part) != t)


def test_100_refinements_grow_the_folder_by_what_they_changed_and_100_undos_are_exact(folder: Path):
    # The refinements' parts are worked out once per request (regenerating a part is not what
    # is tested here, and is most of a refinement's time); each of the 100 commits puts the parts
    # one of them reached into the song as it is then, as a refinement does.
    song = session.load_song(folder)
    variants = []
    for text in REQUESTS:
        proposal = revisions.revise(song, text)
        variants.append((text, [proposal.song.track(p) for p in proposal.targets if p in {t.part for t in song.tracks}]))
    start_size = size(folder)
    after_entry = {len(song.history): files(folder)}
    changed = 0
    for i in range(100):
        text, tracks = variants[i % len(variants)]
        before = session.load_song(folder)
        after = before
        for track in tracks:
            after = after.model_copy(update={"tracks": [track if t.part == track.part else t for t in after.tracks]})
        new, _ = revisions.commit(folder, before, after, "refine", text, [t.part for t in tracks])
        changed += changed_parts_bytes(before, new)
        after_entry[len(new.history)] = files(folder)
    growth = size(folder) - start_size
    print(f"100 refinements of 64 bars: folder {start_size / 1e6:.2f} -> {size(folder) / 1e6:.2f} MB, "
          f"grew {growth / 1e3:.0f} kB for {changed / 1e3:.0f} kB of parts changed ({growth / changed:.2f}x)")
    assert growth < 10 * changed

    first = min(after_entry)
    for entry in range(first + 99, first - 1, -1):  # 100 undos, each one step further back
        revisions.undo(folder)
        assert files(folder) == after_entry[entry], f"not as after entry {entry}"
    assert files(folder) == after_entry[first], "100 undos return the original bytes"


def test_refinements_of_the_folder_keep_only_what_they_replaced(folder: Path):
    before = files(folder)
    for text in REQUESTS[:4]:
        song = session.load_song(folder)
        revisions.refine_folder(folder, text)
        entry = session.load_song(folder).history[-1]
        kept = json.loads((folder / entry.snapshot).read_bytes())
        assert set(kept["tracks"]) <= set(entry.targets) and kept["fields"] == {}
        assert (folder / entry.snapshot).stat().st_size < len(song.model_dump_json())
    revisions.revert(folder, len(session.load_song(folder).history) - 4)
    assert files(folder) == before


def test_undo_depth_caps_what_can_be_undone_and_lets_its_files_go(folder: Path):
    start = session.load_song(folder)
    for text in REQUESTS[:5]:
        song = session.load_song(folder)
        revisions.commit(folder, song, revisions.revise(song, text).song, "refine", text, [], depth=2)
    song = session.load_song(folder)
    kept = [e.snapshot for e in song.history if e.snapshot]
    assert len(kept) == 2 and sorted(p.name for p in (folder / "history").iterdir()) == sorted(Path(k).name for k in kept)
    revisions.undo(folder)  # the last changes can still be undone
    with pytest.raises(BadRequestError, match="undo_depth"):
        revisions.revert(folder, len(start.history))


def test_a_snapshot_of_an_older_backbeat_holding_the_whole_song_still_undoes(folder: Path):
    before = files(folder)
    revisions.refine_folder(folder, "bass busier")
    song = session.load_song(folder)
    snapshot = folder / song.history[-1].snapshot
    original = session.load_song(folder.parent / folder.name)  # stands for the whole song an old snapshot held
    revisions.revert(folder, len(song.history) - 1)
    assert files(folder) == before
    # the same entry, its snapshot rewritten the old way (the whole song before it)
    state = revisions.step_back(folder, song.model_dump(mode="json"), song.history[-1].snapshot)
    snapshot.write_text(json.dumps(state))
    revisions.revert(folder, len(song.history) - 1)
    assert files(folder) == before
    assert original.session_id == song.session_id


def test_temp_files_of_killed_writes_are_removed_at_the_next_change(folder: Path):
    dead = 2**22 + 7  # above any pid this machine hands out (pid_max is at most 2**22)
    leftovers = [folder / f".song-state.json.{dead}-0badc0de.tmp", folder / "midi" / f".bass.mid.{dead}-deadbeef.tmp"]
    for path in leftovers:
        path.write_bytes(b"half")
    mine = folder / "midi" / "notes-of-mine.tmp"
    mine.write_bytes(b"not a leftover")
    revisions.refine_folder(folder, "bass busier")
    assert not any(p.exists() for p in leftovers) and mine.exists()


def test_a_huge_session_file_is_refused_not_read(folder: Path, monkeypatch):
    monkeypatch.setattr(session, "SESSION_FILE_LIMIT", 1000)
    with pytest.raises(FileTooLargeError, match="over"):
        session.load_song(folder)


def test_a_huge_config_table_or_midi_file_is_refused_in_one_line(tmp_path: Path, monkeypatch):
    from backbeat.generators import files
    from backbeat.generators.errors import ConfigError
    from backbeat.generators.files import read_limited
    from backbeat.generators import tables

    big = tmp_path / "theory.toml"
    big.write_bytes(b"# " + b"x" * 5000 + b"\n")
    with pytest.raises(FileTooLargeError, match="over 4 KiB"):
        read_limited(big, 4096)
    monkeypatch.setattr(tables, "USER_CONFIG_DIR", tmp_path)
    monkeypatch.setattr(tables, "CONFIG_FILE_LIMIT", 4096)
    with pytest.raises(ConfigError, match="over"):
        tables._read("theory")
    assert files.MIDI_FILE_LIMIT >= 1 << 20
