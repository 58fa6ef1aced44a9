"""benchmarks/select_on_dev.py: the variant picked for the test split is picked on dev only."""

import pytest

from benchbox.experiment import Experiment
from benchbox.store import ResultStore

from .conftest import benchmark_script, result_record

select_on_dev = benchmark_script("select_on_dev")


def write(store, label, seed, auroc, protocol="dev"):
    record = result_record(label, seed, "chest_xray", metrics={"auroc": auroc}, split={"protocol": protocol})
    store.write(store.path(Experiment.from_record(record)), record)


def test_highest_mean_dev_auroc_wins_and_the_default_keeps_ties(tmp_path):
    store = ResultStore(tmp_path)
    for seed, (a, b, c) in enumerate([(0.80, 0.82, 0.80), (0.82, 0.80, 0.82)]):
        write(store, "salad", seed, a)
        write(store, "salad[x=1]", seed, b)
        write(store, "salad[x=2]", seed, c)
    best, table = select_on_dev.select(str(tmp_path), "chest_xray", ["salad", "salad[x=1]", "salad[x=2]"])
    assert best == "salad" and table["salad[x=1]"] == (pytest.approx(0.81), 2)  # a three-way tie
    write(store, "salad[x=2]", 1, 0.90)
    assert select_on_dev.select(str(tmp_path), "chest_xray", ["salad", "salad[x=1]", "salad[x=2]"])[0] == "salad[x=2]"


def test_a_candidate_missing_seeds_is_not_picked(tmp_path):
    store = ResultStore(tmp_path)
    write(store, "salad", 0, 0.80)
    write(store, "salad", 1, 0.80)
    write(store, "salad[x=1]", 0, 0.99)  # one seed only
    assert select_on_dev.select(str(tmp_path), "chest_xray", ["salad", "salad[x=1]"])[0] == "salad"


def test_a_test_split_result_is_refused(tmp_path):
    store = ResultStore(tmp_path)
    write(store, "salad", 0, 0.80)
    write(store, "salad[x=1]", 0, 0.90, protocol="official")
    with pytest.raises(SystemExit, match="not dev: refusing to select on it"):
        select_on_dev.select(str(tmp_path), "chest_xray", ["salad", "salad[x=1]"])
