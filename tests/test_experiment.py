"""An experiment's identity lives in one object: its key, row label, result path and table group
all derive from it, so a new dimension added in one place shows up in all four."""

from benchbox import experiment
from benchbox.execute import base_record
from benchbox.experiment import Dimension, Experiment
from benchbox.plan import plan
from benchbox.store import ResultStore
from benchbox.tables import frame


def test_a_new_dimension_in_one_place_reaches_key_label_path_and_table(plugins, tmp_path, monkeypatch):
    before = plan(plugins, ["pca"], ["synthetic"], [0])[0]
    monkeypatch.setattr(experiment, "DIMENSIONS", (Dimension("throwaway", "a"),))
    default, other = (
        plan(plugins, ["pca"], ["synthetic"], [0], dimensions={"throwaway": value})[0] for value in ("a", "b")
    )
    assert default.key == before.key  # a dimension at its default keeps every existing key
    assert other.key != default.key
    assert other.label == "pca; throwaway=b" and default.label == "pca"
    store = ResultStore(tmp_path)
    assert store.path(other) != store.path(default) and "throwaway=b" in store.path(other).name

    records = []
    for cell in (default, other):
        record = base_record(cell, plugins.methods.provider("pca"))
        record.update(status="ok", metrics={"auroc": 0.5, "thresholds": {}})
        store.write(store.path(cell), record)
        records.append(record)
    stored, problems = store.records()
    assert not problems and {Experiment.from_record(r).key for r in stored} == {default.key, other.key}
    assert sorted(frame(stored).method) == ["pca", "pca; throwaway=b"]  # two rows, never averaged
    # Two cells of one label that differ only in a dimension are told apart by it.
    same_label = [dict(r, label="pca") for r in records]
    assert sorted(frame(same_label).method) == ["pca (dimension.throwaway=b)", "pca (dimension.throwaway=–)"]


def test_run_settings_that_change_nothing_computed_are_not_part_of_the_experiment(plugins):
    def key(**settings):
        return plan(plugins, ["ae"], ["synthetic"], [0], **settings)[0].key

    assert key(device="cpu", channels_last=True, compile=True) == key()
    assert key(epochs=2) != key() and key(precision="bf16") != key()
    assert set(experiment.EXECUTION_PARAMS) == {"device", "channels_last", "compile"}
