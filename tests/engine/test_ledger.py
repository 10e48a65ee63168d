from backbeat.engine.ledger import NoteLedger, Release

K = ("out", 0, 60)


def test_note_off_matches_only_the_track_that_started_the_note():
    ledger = NoteLedger()
    assert not ledger.note_on(K, "lead")
    assert not ledger.note_off(K, "bass")
    assert not ledger.note_off(("out", 0, 61), "lead")
    assert ledger.note_off(K, "lead")
    assert len(ledger) == 0 and not ledger.note_off(K, "lead")


def test_a_key_started_again_while_it_sounds_is_a_retrigger_and_ends_with_the_last_note_off():
    ledger = NoteLedger()
    assert not ledger.note_on(K, "lead")
    assert ledger.note_on(K, "lead"), "the caller must send a note-off before this note-on"
    assert ledger.note_on(K, "pad")
    assert len(ledger) == 1 and ledger.count(K) == 3 and ledger.count(K, "lead") == 2
    assert not ledger.note_off(K, "lead")  # swallowed: two more note-offs are owed
    assert not ledger.note_off(K, "pad")
    assert ledger.note_off(K, "lead"), "the last note-off owed ends the key"
    assert len(ledger) == 0


def test_release_track_ends_only_the_keys_no_other_track_holds():
    ledger = NoteLedger()
    for key, track in [(K, "lead"), (K, "lead"), (K, "pad"), (("out", 0, 62), "lead")]:
        ledger.note_on(key, track)
    assert ledger.release_track("lead") == [Release(("out", 0, 62), "lead", 1)]
    assert ledger.count(K) == 1 and K in ledger
    assert ledger.note_off(K, "pad") and len(ledger) == 0


def test_release_all_is_one_note_off_per_key_ordered_and_empties_the_ledger():
    ledger = NoteLedger()
    for key, track in [(("b", 1, 50), "x"), (("a", 9, 36), "drums"), (("a", 9, 36), "drums"), (("a", 0, 70), "x")]:
        ledger.note_on(key, track)
    released = ledger.release_all()
    assert [r.key for r in released] == [("a", 0, 70), ("a", 9, 36), ("b", 1, 50)]
    assert released[1].message() == (0x89, 36, 0)
    assert len(ledger) == 0 and ledger.release_all() == []


def test_release_all_of_one_port_keeps_the_others():
    ledger = NoteLedger()
    ledger.note_on(("a", 0, 60), "x")
    ledger.note_on(("b", 0, 60), "x")
    assert [r.key for r in ledger.release_all("b")] == [("b", 0, 60)]
    assert ledger.keys() == [("a", 0, 60)]
