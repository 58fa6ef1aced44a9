"""``benchbox export mlflow`` against a real local MLflow store, read back through MLflow's own
client: one run per finished cell, its metrics equal to the cell's JSON, exporting twice adds
nothing, and an export stopped half-way is made again whole."""

import pytest

from .conftest import run_cli
from .test_paper import scored, write_results

mlflow = pytest.importorskip("mlflow", reason="MLflow is an optional extra: pip install 'benchbox-ad[mlflow]'")


@pytest.fixture
def results(tmp_path):
    records = [scored(m, s, d, 1.0) for d in ("oct", "chest_xray") for m in ("ae", "vae") for s in range(2)]
    for r in records:
        r["history"] = [{"epoch": e, "loss": 1.0 / e} for e in (1, 2, 3)]
    failed = scored("ssim_ae", 0, "oct", 1.0)
    failed["status"] = "failed"
    write_results(tmp_path / "res", [*records, failed])
    return tmp_path / "res", records


def runs(uri):
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    found = {}
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            found[run.data.tags["benchbox.key"]] = (experiment.name, run)
    return client, found


def test_one_run_per_cell_with_the_json_metrics_and_twice_adds_nothing(tmp_path, results):
    folder, records = results
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    elsewhere = tmp_path / "elsewhere"  # the folder the export runs from
    elsewhere.mkdir()
    first = run_cli("export", "mlflow", "--results-dir", str(folder.resolve()), "--tracking-uri", uri, cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    assert not any(elsewhere.iterdir()), "artifacts written into the working folder"
    assert len(list((tmp_path / "mlartifacts").rglob("roc.png"))) == 8  # beside the database
    assert "exported 8 runs" in first.stderr and "0 already there" in first.stderr
    client, found = runs(uri)
    assert set(found) == {r["key"] for r in records}  # the failed cell is not exported
    for r in records:
        experiment, run = found[r["key"]]
        assert experiment == f"benchbox/{r['dataset']}"
        assert run.data.metrics["auroc"] == r["metrics"]["auroc"]
        assert run.data.metrics["test_best_f1.f1"] == r["metrics"]["thresholds"]["test_best_f1"]["f1"]
        assert run.data.params["method"] == r["method"] and run.data.params["seed"] == str(r["seed"])
        steps = client.get_metric_history(run.info.run_id, "train.loss")
        assert sorted((m.step, m.value) for m in steps) == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert "roc.png" in artifacts and any(a.endswith(".json") for a in artifacts)
    second = run_cli("export", "mlflow", "--results-dir", str(folder), "--tracking-uri", uri)
    assert second.returncode == 0 and "exported 0 runs" in second.stderr and "8 already there" in second.stderr
    assert len(runs(uri)[1]) == 8


def test_an_export_stopped_half_way_is_made_again(tmp_path, results):
    from benchbox.export_mlflow import DONE_TAG, export
    from benchbox.store import ResultStore

    folder, _ = results
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    records = [r for r in ResultStore(folder).records()[0] if r["status"] == "ok"]
    assert export(records, uri) == (8, 0)
    client, found = runs(uri)
    _, run = next(iter(found.values()))
    client.delete_tag(run.info.run_id, DONE_TAG)  # as if the export had died before its last step
    assert export(records, uri) == (1, 7)
    client, found = runs(uri)
    assert len(found) == 8 and all(run.data.tags.get(DONE_TAG) == "true" for _, run in found.values())
