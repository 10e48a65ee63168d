"""Drum maps: every role in every map, files written with each map, re-mapping a session."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import symusic

from backbeat.commands.drum_map import remap
from backbeat.generators import drum_maps, midi, midi_inspect, session
from backbeat.generators.errors import BadRequestError, ConfigError
from backbeat.generators.tables import tables

from .songs import song

MAPS = ("gm", "mpc-legacy", "mpc-chromatic")
LEGACY_PADS = [37, 36, 42, 82, 40, 38, 46, 44, 48, 47, 45, 43, 49, 55, 51, 53]


def test_every_role_of_the_drum_generator_has_a_note_in_every_map():
    drums = tables().parts.drums
    used = set(drums.gm) | {lane for s in drums.styles.values() for v in s.variants.values() for lane in v}
    used |= {lane for f in drums.fills.values() for lane in f.lanes}
    assert set(drum_maps.names()) >= set(MAPS)
    for name in MAPS:
        roles = drum_maps.drum_map(name).roles
        assert used <= set(roles), (name, used - set(roles))
        for role in used:
            assert drum_maps.remap(name, drums.gm[role]) == roles[role].note


def test_the_reference_map_covers_all_of_general_midi_percussion_once():
    gm = drum_maps.drum_map("gm").roles
    assert sorted(r.note for r in gm.values()) == list(range(35, 82))
    assert drum_maps.note_table("gm") == tuple(range(128))


def test_mpc_maps_put_every_role_on_one_of_the_16_pads():
    legacy, chromatic = drum_maps.drum_map("mpc-legacy"), drum_maps.drum_map("mpc-chromatic")
    assert list(legacy.pads.values()) == LEGACY_PADS and list(chromatic.pads.values()) == list(range(36, 52))
    assert list(legacy.pads) == list(chromatic.pads) == [f"A{i:02d}" for i in range(1, 17)]
    for m in (legacy, chromatic):
        assert {r.note for r in m.roles.values()} <= set(m.pads.values())
        assert all(r.source for r in m.roles.values())
    # the GM kick, snare and hats land on the kit's A01-A04, not on whatever GM 36/38 would hit
    assert [drum_maps.remap("mpc-legacy", n) for n in (36, 38, 42, 46)] == [37, 36, 42, 82]
    assert [drum_maps.remap("mpc-chromatic", n) for n in (36, 38, 42, 46)] == [36, 37, 38, 39]
    assert drum_maps.remap("mpc-legacy", 20) == 20, "a note that is no role stays as it is"


def test_an_unknown_map_is_one_clear_line():
    with pytest.raises(BadRequestError, match="unknown drum map 'tr808'.*gm"):
        drum_maps.drum_map("tr808")


def test_a_users_map_must_name_every_role_and_agree_with_its_pads(monkeypatch, tmp_path):
    folder = tmp_path / "drum_maps"
    folder.mkdir()
    monkeypatch.setattr(drum_maps, "USER_CONFIG_DIR", tmp_path)
    (folder / "tiny.toml").write_text('name = "tiny"\ndescription = "x"\nsource = "y"\n[roles.kick]\nnote = 36\nsound = "kick"\nsource = "me"\n')
    (folder / "liar.toml").write_text(
        'name = "liar"\ndescription = "x"\nsource = "y"\n[pads]\nA01 = 36\n[roles.kick]\nnote = 40\npad = "A01"\nsound = "kick"\nsource = "me"\n')
    drum_maps.drum_map.cache_clear()
    try:
        assert {"tiny", "liar"} <= set(drum_maps.names())
        with pytest.raises(ConfigError, match="no note for role"):
            drum_maps.drum_map("tiny")
        with pytest.raises(ConfigError, match="pad 'A01' answers to note 36, not 40"):
            drum_maps.drum_map("liar")
    finally:
        drum_maps.drum_map.cache_clear()


@pytest.mark.parametrize("name", MAPS)
def test_files_written_with_each_map_hold_the_mapped_notes(name):
    s = song("Trap beat, dark, 140 BPM", 4, bars=16).model_copy(update={"drum_map": name})
    table = drum_maps.note_table(name)
    bar = 1920
    roles = [(c.start_bar * bar + n.tick, n.pitch) for c in s.track("drums").clips for n in c.notes]
    expected = {(tick, table[p]) for tick, p in roles}  # two roles on one pad at one tick: one note
    for data, track in ((midi.part_file(s, "drums"), 0), (midi.arrangement_file(s), 0)):
        score = symusic.Score.from_midi(data)
        drums = [t for t in score.tracks if t.is_drum][track]
        got = Counter((n.time, n.pitch) for n in drums.notes)
        assert set(got) == expected and max(got.values()) == 1
        assert midi_inspect.validate(data).ok
    others = {p: midi.part_file(s, p) for p in ("bass", "chords", "lead")}
    assert others == {p: midi.part_file(s.model_copy(update={"drum_map": "gm"}), p) for p in others}


def test_remapping_a_session_rewrites_only_the_drum_files(tmp_path):
    s = song("boom bap, dusty, 92 BPM", 3, bars=8)
    session.write(tmp_path, s, [])
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()}
    for p in before:
        os.utime(p, ns=(1, 1))  # an old mtime: a rewrite would show
    files = remap(tmp_path, "mpc-legacy")
    assert set(files) == {"song-state.json", "midi/drums.mid", "midi/full-arrangement.mid", "notes/drum-pads.md"}
    for p, (data, _) in before.items():
        rel = p.relative_to(tmp_path).as_posix()
        if rel in files or rel == "manifest.json":
            continue
        assert p.read_bytes() == data and p.stat().st_mtime_ns == 1, rel
    after = session.load_song(tmp_path)
    assert after.drum_map == "mpc-legacy" and after.tracks == s.tracks, "the song keeps its GM roles"
    assert after.history[-1].action == "drum-map" and (tmp_path / after.history[-1].snapshot).is_file()
    assert "**mpc-legacy**" in (tmp_path / "notes" / "drum-pads.md").read_text()
    assert remap(tmp_path, "mpc-legacy") == []
