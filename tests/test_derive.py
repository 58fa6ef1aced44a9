"""``--leaks drop`` from the kept results (no training) equals ``--leaks drop`` trained afresh."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from benchbox.cli import main
from benchbox.derive import kept_twin
from benchbox.experiment import Experiment
from benchbox.store import ResultStore

from .test_localisation import mvtec_tree


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setenv("BENCHBOX_NO_ENTRY_POINTS", "1")

    def invoke(*args):
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result

    return invoke


@pytest.fixture
def leaky(tmp_path):
    """An MVTec-layout tree whose second normal test image copies a training image."""
    root = mvtec_tree(tmp_path / "leaky", n=6)
    shutil.copy(root / "train" / "good" / "003.png", root / "test" / "good" / "000a.png")
    return root


def _run(cli, root, results, methods, *extra):
    return cli(
        "run", "--dataset", "folder", "--data-root", root, "--param", "folder.normal_class=good",
        "--methods", methods, "--seeds", "0,1", "--image-size", "32", "--epochs", "1", "--batch-size", "4",
        "--threads", "1", "--results-dir", results, *extra,
    )  # fmt: skip


def _by_seed(results, leaks="drop"):
    records, _ = ResultStore(results).records()
    return {r["seed"]: r for r in records if r["experiment"]["dimensions"].get("leaks", "keep") == leaks}


def test_dropped_from_kept_equals_trained_afresh_score_for_score(tmp_path, cli, leaky):
    kept, fresh = tmp_path / "kept", tmp_path / "fresh"
    _run(cli, leaky, kept, "ae")
    out = _run(cli, leaky, kept, "ae", "--leaks", "drop").output
    assert "0 run, 2 derived from kept results" in out
    _run(cli, leaky, fresh, "ae", "--leaks", "drop", "--no-derive")
    derived, trained = _by_seed(kept), _by_seed(fresh)
    for seed in (0, 1):
        d, t = derived[seed], trained[seed]
        assert d["key"] == t["key"] and "derived" not in t
        assert d["derived"]["from_key"] == _by_seed(kept, "keep")[seed]["key"]
        assert d["leak_audit"]["dropped"] == t["leak_audit"]["dropped"] == 1
        assert "test/good/000a.png" not in d["scores"]["ids"]
        assert d["scores"]["ids"] == t["scores"]["ids"] and d["test_set"] == t["test_set"]
        assert d["scores"] == t["scores"] and d["metrics"] == t["metrics"]  # one seeded CPU training, twice
    # The tables, too: the dropped rows of one folder are the other folder's table.
    shutil.rmtree(kept / "folder" / ".locks", ignore_errors=True)
    for path in (kept / "folder").glob("ae__seed*"):
        path.unlink()  # leave only the derived cells
    assert cli("table", "--results-dir", kept).output == cli("table", "--results-dir", fresh).output


def test_pixel_auroc_from_histograms_and_maps_renumbered(tmp_path, cli, leaky):
    kept, fresh = tmp_path / "kept", tmp_path / "fresh"
    _run(cli, leaky, kept, "pca")
    _run(cli, leaky, kept, "pca", "--leaks", "drop")
    _run(cli, leaky, fresh, "pca", "--leaks", "drop", "--no-derive")
    store = ResultStore(kept)
    d, t = _by_seed(kept)[0], _by_seed(fresh)[0]
    # 256-bin histograms of the kept run against 4,096 bins over the dropped set: close, not equal
    assert d["pixel_metrics"]["pixel_auroc"] == pytest.approx(t["pixel_metrics"]["pixel_auroc"], abs=0.01)
    assert "aupro" not in d["pixel_metrics"] and d["derived"]["missing"] == ["aupro", "best_dice"]
    for count in ("n_images", "n_anomalous_images", "positive_share"):
        assert d["pixel_metrics"][count] == pytest.approx(t["pixel_metrics"][count])
    arrays = store.read_artifacts(store.path(Experiment.from_record(d)))
    trained = ResultStore(fresh).read_artifacts(ResultStore(fresh).path(Experiment.from_record(t)))
    ids = [d["scores"]["ids"][i] for i in arrays["map_index"]]
    fresh_ids = [t["scores"]["ids"][i] for i in trained["map_index"]]
    assert "test/good/000a.png" not in ids and set(ids) <= set(fresh_ids)
    for i, image_id in zip(arrays["map_index"], ids):
        j = fresh_ids.index(image_id)
        np.testing.assert_allclose(arrays["maps"][list(arrays["map_index"]).index(i)], trained["maps"][j], rtol=1e-5)
    assert arrays["pixel_hist_positive"].shape[0] == d["test_set"]["n"]
    # The report shows the derived cells' pixel AUROC and says AUPRO and Dice are missing.
    report = tmp_path / "report"
    cli("report", "--results-dir", kept, "--out", report)
    assert "derived" in (report / "index.md").read_text()


def test_dry_run_says_derive_and_select_test_trains(tmp_path, cli, leaky):
    kept = tmp_path / "kept"
    _run(cli, leaky, kept, "pca")
    lines = _run(cli, leaky, kept, "pca", "--leaks", "drop", "--dry-run").output.splitlines()
    assert [line.split("\t")[0] for line in lines if "\t" in line] == ["derive"]  # pca: one seed-independent run
    experiment = Experiment("ae", {}, "folder", {}, 32, 0, dimensions={"leaks": "drop", "select": "test"})
    assert kept_twin(experiment) is None
    twin = kept_twin(Experiment("ae", {}, "folder", {}, 32, 0, dimensions={"leaks": "drop", "select": "val"}))
    assert twin.dimensions == {"select": "val"}
    assert json.dumps(twin.defining()) != json.dumps(experiment.defining())
