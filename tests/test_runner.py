import json

import numpy as np
import pytest

import benchbox
from benchbox.plan import plan
from benchbox.runner import run_grid
from benchbox.store import ResultStore

from .test_plugins import Plugin

SMALL = [("synthetic", "n_train", "48"), ("synthetic", "n_test", "24"), ("synthetic", "n_val", "8")]


class Broken(benchbox.Method):
    name = "broken"

    def fit(self, train, *, on_epoch=None):
        raise RuntimeError("boom on purpose")


class Constant(benchbox.Method):
    """Counts its fits, to show what the runner skips."""

    name = "constant"
    fits = 0

    def fit(self, train, *, on_epoch=None):
        type(self).fits += 1
        return self

    def score(self, data):
        return data.images.float().mean(dim=(1, 2, 3)).numpy()


@pytest.fixture
def grid_plugins(plugins):
    Constant.fits = 0
    plugins.register(Plugin(Broken, Constant), name="test-methods")
    return plugins


def test_resume_skips_done_and_recomputes_only_deleted(grid_plugins, tmp_path):
    store = ResultStore(tmp_path)
    cells = plan(grid_plugins, ["constant"], ["synthetic"], [0, 1, 2], overrides=SMALL)
    first = run_grid(cells, grid_plugins, store)
    assert len(first.done) == 3 and Constant.fits == 3
    second = run_grid(cells, grid_plugins, store)
    assert len(second.skipped) == 3 and not second.done and Constant.fits == 3
    victim = store.path(cells[1])
    victim.unlink()
    third = run_grid(cells, grid_plugins, store)
    assert [c.seed for c, _ in third.done] == [1] and Constant.fits == 4
    forced = run_grid(cells, grid_plugins, store, force=True)
    assert len(forced.done) == 3


def test_failed_cell_is_recorded_and_grid_continues(grid_plugins, tmp_path):
    store = ResultStore(tmp_path)
    cells = plan(grid_plugins, ["broken", "constant"], ["synthetic"], [0], overrides=SMALL)
    summary = run_grid(cells, grid_plugins, store)
    assert len(summary.failed) == 1 and len(summary.done) == 1
    record = json.loads(store.path(cells[0]).read_text())
    assert record["status"] == "failed" and "boom on purpose" in record["error"]
    again = run_grid(cells, grid_plugins, store)  # failed cells are retried, done ones not
    assert [c.label for c, _ in again.failed] == ["broken"] and len(again.skipped) == 1


def test_record_holds_config_scores_and_provenance(grid_plugins, tmp_path):
    store = ResultStore(tmp_path)
    cells = plan(grid_plugins, ["constant"], ["synthetic"], [3], overrides=SMALL, image_size=32)
    run_grid(cells, grid_plugins, store)
    (record,), problems = store.records()
    assert not problems
    assert record["image_size"] == 32 and record["seed"] == 3 and record["dataset_params"]["n_test"] == 24
    assert record["versions"]["plugin"]["name"] == "test-methods"
    assert len(record["scores"]["scores"]) == record["test_set"]["n"] == 24
    assert set(record["scores"]["classes"]) == {"NORMAL", "DRUSEN", "FLUID"}
    assert len(record["test_set"]["hash"]) == 64
    assert "val_best_f1" in record["metrics"]["thresholds"]
    labels, scores = np.array(record["scores"]["labels"]), np.array(record["scores"]["scores"])
    from benchbox.metrics import evaluate

    assert evaluate(labels, scores)["auroc"] == record["metrics"]["auroc"]


def test_inline_params_make_distinct_rows_and_keys(plugins):
    cells = plan(plugins, ["ae", "ae[latent_dim=16]"], ["synthetic"], [0], overrides=SMALL)
    assert [c.label for c in cells] == ["ae", "ae[latent_dim=16]"]
    assert cells[0].key != cells[1].key and cells[1].method_params["latent_dim"] == 16


def test_same_experiment_spelled_twice_is_refused(plugins):
    from benchbox.errors import ParamError

    with pytest.raises(ParamError, match="same experiment"):
        plan(plugins, ["ae", "ae[latent_dim=128]"], ["synthetic"], [0])


def test_corrupt_result_is_reported_and_skipped(grid_plugins, tmp_path):
    store = ResultStore(tmp_path)
    cells = plan(grid_plugins, ["constant"], ["synthetic"], [0, 1], overrides=SMALL)
    run_grid(cells, grid_plugins, store)
    path = store.path(cells[0])
    path.write_text(path.read_text()[:100])
    records, problems = store.records()
    assert len(records) == 1 and len(problems) == 1 and str(path) in problems[0]
    assert len(run_grid(cells, grid_plugins, store).done) == 1  # the corrupt one is recomputed


class Exploding(benchbox.Method):
    name = "exploding"

    def fit(self, train, *, on_epoch=None):
        from benchbox.errors import Diverged

        raise Diverged(3, "l1")


def test_diverged_cell_is_recorded_with_epoch_and_loss(plugins, tmp_path):
    plugins.register(Plugin(Exploding, Constant), name="test-diverging")
    store = ResultStore(tmp_path)
    cells = plan(plugins, ["exploding", "constant"], ["synthetic"], [0], overrides=SMALL)
    summary = run_grid(cells, plugins, store)
    assert len(summary.failed) == 1 and len(summary.done) == 1
    record = json.loads(store.path(cells[0]).read_text())
    assert record["status"] == "diverged" and record["diverged"] == {"epoch": 3, "loss": "l1"}
    assert "diverged at epoch 3: loss 'l1'" in record["error"]


def test_a_results_folder_is_read_at_its_dataset_level_only(tmp_path):
    """In the repository, `benchbox run` writes results/<dataset>/ and committed cells sit in
    results/cells/<folder>/<dataset>/: a bare `benchbox table` must show only the former."""
    from .conftest import result_record

    store = ResultStore(tmp_path / "results")
    mine = result_record("ae", 0, "synthetic", metrics={"auroc": 0.7})
    store.write(tmp_path / "results" / "synthetic" / "ae__seed0__aaaaaaaaaaaa.json", mine)
    committed = result_record("ae", 0, "chest_xray", metrics={"auroc": 0.6})
    nested = tmp_path / "results" / "cells" / "official" / "chest_xray" / "ae__seed0__bbbbbbbbbbbb.json"
    store.write(nested, committed)
    records, problems = store.records()
    assert [r["dataset"] for r in records] == ["synthetic"] and not problems
    assert [r["dataset"] for r in ResultStore(tmp_path / "results" / "cells" / "official").records()[0]] == [
        "chest_xray"
    ]
