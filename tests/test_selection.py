"""--select last|val|test: how the scored checkpoint is chosen, part of the experiment, never
mixed in a table, never reading test labels under val, and continued across a resume."""

import os
import signal

import numpy as np
import pytest
from PIL import Image

from benchbox import execute
from benchbox.errors import DataError, ParamError
from benchbox.execute import DataCache, execute_cell
from benchbox.plan import plan
from benchbox.report import build
from benchbox.runner import run_grid
from benchbox.stopping import Interrupted, StopRequests
from benchbox.store import ResultStore
from benchbox.tables import render

from .conftest import result_record, run_cli

TINY = {"epochs": 4, "batch_size": 32}
SYNTHETIC = {"n_train": 64, "n_val": 32, "n_test": 48}


def _cells(plugins, methods, select=None, every=None, datasets=("synthetic",), **kw):
    dims = {"select": select, "select_every": every}
    return plan(
        plugins,
        methods,
        list(datasets),
        [0],
        image_size=16,
        overrides=[("synthetic", k, str(v)) for k, v in SYNTHETIC.items()],
        dimensions=dims,
        **TINY,
        **kw,
    )


def _run(plugins, cells, root):
    run_grid(cells, plugins, ResultStore(root))
    records, _ = ResultStore(root).records()
    return {r["label"]: r for r in records}


def test_test_rule_trains_as_last_and_keeps_the_best_test_epoch(plugins, tmp_path):
    """Scoring between epochs leaves training as it is: the curve's last point is the
    last-epoch result, and the reported test AUROC is the curve's best point."""
    runs = _run(plugins, _cells(plugins, ["ae", "cutpaste"]) + _cells(plugins, ["ae", "cutpaste"], "test"), tmp_path)
    for name in ("ae", "cutpaste"):
        last, chosen = runs[name], runs[f"{name}; select=test"]
        curve = [p["auroc"] for p in chosen["selection"]["curve"]]
        assert [p["epoch"] for p in chosen["selection"]["curve"]] == [1, 2, 3, 4]
        assert curve[-1] == last["metrics"]["auroc"]
        assert chosen["selection"]["chosen_epoch"] == int(np.argmax(curve)) + 1
        assert chosen["metrics"]["auroc"] == max(curve)
        assert chosen["history"] == last["history"]
        assert chosen["key"] != last["key"]


def test_every_n_epochs_and_always_the_last(plugins, tmp_path):
    (cell,) = _cells(plugins, ["ae"], "test", every=3)
    assert cell.label == "ae; select=test; select_every=3"
    record = _run(plugins, [cell], tmp_path)[cell.label]
    assert [p["epoch"] for p in record["selection"]["curve"]] == [3, 4]
    assert 0 < record["timings"]["select_s"] < record["timings"]["fit_s"]


def test_val_never_reads_the_test_labels(plugins, monkeypatch):
    """Poisoned test labels (all flipped) change nothing that the val rule chose."""
    (cell,) = _cells(plugins, ["ae"], "val")
    honest = execute_cell(cell, plugins, DataCache(plugins))
    original = DataCache.split

    def poisoned(self, cell, split):
        images = original(self, cell, split)
        if split == "test":
            images = type(images)(images.images, 1 - images.labels, images.classes, images.ids)
        return images

    monkeypatch.setattr(DataCache, "split", poisoned)
    record = execute_cell(cell, plugins, DataCache(plugins))
    assert record["selection"]["curve"] == honest["selection"]["curve"]
    assert record["selection"]["chosen_epoch"] == honest["selection"]["chosen_epoch"]
    assert record["scores"]["scores"] == honest["scores"]["scores"]  # the same checkpoint scored
    assert record["selection"]["split"] == "the val split"
    assert record["metrics"]["auroc"] == pytest.approx(1 - honest["metrics"]["auroc"])


@pytest.mark.parametrize("rule", ["last", "test"])
def test_a_resumed_cell_continues_the_same_curve_and_history(plugins, tmp_path, rule):
    """Stopped after epoch 2 (SIGTERM, as Ctrl-C), then resumed: the record equals an
    uninterrupted one in every field but timings and where each part ran."""
    (cell,) = _cells(plugins, ["ae"], rule)
    whole = _run(plugins, [cell], tmp_path / "whole")[cell.label]

    def stop_at_2(epoch, epochs, losses):
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    store = ResultStore(tmp_path / "parts")
    with pytest.raises(Interrupted), StopRequests():
        execute.run_cell_locked(
            cell,
            plugins,
            DataCache(plugins),
            store,
            force=False,
            checkpoint_every=execute.Cadence(1),
            on_epoch=stop_at_2,
        )
    assert store.checkpoint_path(store.path(cell)).exists()
    resumed = _run(plugins, [cell], tmp_path / "parts")[cell.label]
    assert len(resumed["history"]) == 4
    for field in ("selection", "history", "scores", "metrics"):
        assert resumed.get(field) == whole.get(field), field
    assert [p["from_epoch"] for p in resumed["parts"]] == [1, 3]


def test_methods_without_epochs_run_as_last(plugins):
    (pca,) = _cells(plugins, ["pca"], "test")
    (plain,) = _cells(plugins, ["pca"])
    assert pca.key == plain.key and pca.label == "pca"


def test_bad_rules_are_refused_while_planning(plugins, tmp_path):
    with pytest.raises(ParamError, match="--select-every applies to --select val or test"):
        _cells(plugins, ["ae"], "last", every=2)
    with pytest.raises(ParamError, match="--select: expected one of last, val, test"):
        _cells(plugins, ["ae"], "best")
    with pytest.raises(ParamError, match="--select-every must be a positive integer"):
        _cells(plugins, ["ae"], "val", every=0)
    # A folder without a labelled validation split and without training anomalies.
    _tree(tmp_path, {"train/NORMAL": 6, "test/NORMAL": 3, "test/SICK": 3})
    with pytest.raises(DataError, match="--select val needs a labelled validation split"):
        plan(plugins, ["ae"], ["folder"], [0], data_root=str(tmp_path), dimensions={"select": "val"})
    result = run_cli("run", "--methods", "ae", "--dataset", "folder", "--data-root", str(tmp_path), "--select", "val")
    assert result.returncode == 2 and "--select val needs a labelled validation split" in result.stderr


def _tree(root, counts: dict[str, int], prefix: dict[str, str] | None = None):
    rng = np.random.default_rng(0)
    for folder, n in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            name = (prefix or {}).get(folder, f"{folder.split('/')[-1]}-{i}").format(i=i)
            Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8)).save(root / folder / f"{name}.png")


def test_a_validation_split_carved_from_train_holds_out_patients(plugins, tmp_path):
    """Chest X-ray's layout: no separate val/, anomalies in train/. Held-out normal patients
    against as many training anomalies; the model trains on the other normals; a patient with
    a test image is never a validation image."""
    _tree(
        tmp_path,
        {"train/NORMAL": 20, "train/PNEUMONIA": 30, "test/NORMAL": 4, "test/PNEUMONIA": 4},
        {
            "train/NORMAL": "IM-{i:04d}-0001",
            "train/PNEUMONIA": "person{i}_bacteria_1",
            "test/NORMAL": "IM-90{i:02d}-0001",
            "test/PNEUMONIA": "person{i}_virus_2",  # persons 0-3 also have training images
        },
    )
    dataset = plugins.make_dataset("chest_xray", {"dev_holdout": 0.25}, str(tmp_path))
    assert "held-out training patients" in dataset.labelled_validation()
    train, val = dataset.validation_splits(16)
    assert (val.labels == 0).sum() == 5 and len(train) == 15
    assert not set(train.ids) & set(val.ids)
    assert not any(f"person{i}_" in name for i in range(4) for name in val.ids)
    assert (val.labels == 1).sum() <= 5
    (cell,) = plan(plugins, ["ae"], ["chest_xray"], [0], data_root=str(tmp_path), dimensions={"select": "val"})
    (plain,) = plan(plugins, ["ae"], ["chest_xray"], [0], data_root=str(tmp_path))
    assert cell.experiment.data.startswith(plain.experiment.data + "+val:")  # its images are in the key


def test_one_method_under_two_rules_is_never_one_row(tmp_path):
    records = []
    for seed in (0, 1):
        for rule, auroc in (("last", 0.6), ("test", 0.8)):
            record = result_record(
                "ae", seed, metrics={"auroc": auroc + seed / 100, "thresholds": {}}, test_set={"hash": "h", "n": 2}
            )
            if rule != "last":
                record["experiment"]["dimensions"] = {"select": rule}
                record["label"] = f"ae; select={rule}"
            records.append(record)
    text = render(records)
    assert "**Checkpoint: the last epoch**" in text
    assert "**Checkpoint selected on the test labels (oracle: optimistic, not a result)**" in text
    assert "0.6050 ± 0.0071" in text and "0.8050 ± 0.0071" in text and "0.7050" not in text
    csv = render(records, "csv").splitlines()
    assert csv[0].startswith("dataset,method,checkpoint,")
    assert any("selected on the test labels" in line for line in csv[1:]) and len(csv) == 3
    assert r"\emph{Checkpoint selected on the test labels" in render(records, "latex")


def test_the_report_has_a_section_per_rule(plugins, tmp_path):
    cells = _cells(plugins, ["ae", "pca"]) + _cells(plugins, ["ae"], "test") + _cells(plugins, ["ae"], "val")
    _run(plugins, cells, tmp_path / "results")
    build(tmp_path / "results", tmp_path / "report", plugins=plugins)
    index = (tmp_path / "report" / "index.md").read_text()
    assert "## synthetic: checkpoint selected on the test labels" in index
    assert "## synthetic: checkpoint selected on a labelled validation split (anomalies seen)" in index
    assert "**Every number in this section was chosen on the test labels**" in index
    test_table = (tmp_path / "report" / "synthetic-select-test-table1.md").read_text()
    assert "AE; select=test" in test_table and "PCA" not in test_table
    significance = (tmp_path / "report" / "synthetic-select-test-significance.md").read_text()
    assert "(best)" in significance and "| pca" not in significance  # never tested across rules
    assert (tmp_path / "report" / "synthetic-select-val-selection.png").exists()
    selection = (tmp_path / "report" / "synthetic-select-val-selection.md").read_text()
    assert "validation AUROC, chosen" in selection


def test_pixel_auroc_rule_picks_the_epoch_of_its_best_pixel_auroc(plugins, tmp_path):
    """BMAD's rule (--select-metric pixel_auroc): the curve is pixel AUROC over the selection
    split's masks; under test the chosen epoch's is the reported pixel AUROC."""
    cells = plan(plugins, ["ae"], ["synthetic"], [0], image_size=16,
                 overrides=[("synthetic", k, str(v)) for k, v in SYNTHETIC.items()],
                 dimensions={"select": "test", "select_metric": "pixel_auroc"}, **TINY)  # fmt: skip
    (record,) = _run(plugins, cells, tmp_path).values()
    selection = record["selection"]
    curve = [p["pixel_auroc"] for p in selection["curve"]]
    assert record["label"] == "ae; select=test; select_metric=pixel_auroc" and selection["metric"] == "pixel_auroc"
    assert len(set(curve)) > 1 and selection["chosen_epoch"] == int(np.argmax(curve)) + 1
    assert record["pixel_metrics"]["pixel_auroc"] == pytest.approx(max(curve), abs=1e-12)
    image_rule = _cells(plugins, ["ae"], "test")[0]
    assert image_rule.key != cells[0].key


def test_pixel_auroc_rule_is_refused_where_it_cannot_work(plugins, tmp_path):
    with pytest.raises(ParamError, match="--select-metric applies to --select val or test"):
        plan(plugins, ["ae"], ["synthetic"], [0], dimensions={"select_metric": "pixel_auroc"})
    # No masks on the selection split: the cell fails saying so, nothing is chosen by another metric.
    _tree(tmp_path / "data", {"train/NORMAL": 6, "test/NORMAL": 3, "test/SICK": 3})
    cells = plan(plugins, ["ae"], ["folder"], [0], image_size=16, data_root=str(tmp_path / "data"),
                 dimensions={"select": "test", "select_metric": "pixel_auroc"}, epochs=1)  # fmt: skip
    record = execute_cell(cells[0], plugins, DataCache(plugins))
    assert record["status"] == "failed" and "has no pixel masks" in record["error"]
