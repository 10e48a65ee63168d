"""Every swap and jump lands on its exact boundary tick with no stuck note (issue 4's acceptance
line), over 60 randomized trials: random song, random moment, random change."""

import pytest

from tests.daemon.swaps import KINDS, run_trial

TRIALS = range(60)


@pytest.mark.parametrize("seed", TRIALS)
def test_change_lands_exactly_on_its_boundary(seed):
    trial = run_trial(seed)
    assert trial.ok, f"{trial.kind} at {trial.moment:.2f}s in {trial.prompt!r} (boundary {trial.boundary}): {trial.problems}"
    assert trial.checked > 0


def test_trials_cover_every_kind_of_change():
    assert {run_trial(seed).kind for seed in range(20)} == set(KINDS)
