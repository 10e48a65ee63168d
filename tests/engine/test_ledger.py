from backbeat.engine.ledger import NoteLedger, Release


def test_note_off_matches_only_the_track_that_started_the_note():
    ledger = NoteLedger()
    ledger.note_on(("out", 0, 60), "lead")
    assert not ledger.note_off(("out", 0, 60), "bass")
    assert not ledger.note_off(("out", 0, 61), "lead")
    assert ledger.note_off(("out", 0, 60), "lead")
    assert len(ledger) == 0 and not ledger.note_off(("out", 0, 60), "lead")


def test_a_key_sounding_twice_is_one_entry_with_a_count():
    ledger = NoteLedger()
    ledger.note_on(("out", 0, 60), "lead")
    ledger.note_on(("out", 0, 60), "lead")
    ledger.note_on(("out", 0, 60), "pad")
    assert len(ledger) == 1 and ledger.count(("out", 0, 60)) == 3
    assert ledger.release_track("lead") == [Release(("out", 0, 60), "lead", 2)]
    assert ledger.count(("out", 0, 60)) == 1 and ("out", 0, 60) in ledger


def test_release_all_is_ordered_and_empties_the_ledger():
    ledger = NoteLedger()
    for key, track in [(("b", 1, 50), "x"), (("a", 9, 36), "drums"), (("a", 0, 70), "x")]:
        ledger.note_on(key, track)
    released = ledger.release_all()
    assert [r.key for r in released] == [("a", 0, 70), ("a", 9, 36), ("b", 1, 50)]
    assert released[1].message() == (0x89, 36, 0)
    assert len(ledger) == 0 and ledger.release_all() == []
