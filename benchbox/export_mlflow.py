"""``benchbox export mlflow``: each finished cell of a results directory as one MLflow run, under
an experiment per dataset (``benchbox/<dataset>``), so that results sit in the tracker a lab
already uses. Parameters are the experiment's identity (method, entry, its parameters, dataset and
its parameters, image size, seed, checkpoint rule...); metrics the final ones (image level, and
pixel level where there are masks) with the per-epoch losses as steps; tags the cell's key, data
fingerprint and code versions; artifacts the cell's JSON and its ROC curve. Exporting again adds
nothing: a run is found by its cell's key (tag ``benchbox.key``). MLflow is an optional extra
(``pip install "benchbox-ad[mlflow]"``); the result files stay the source of truth.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

KEY_TAG = "benchbox.key"
DONE_TAG = "benchbox.exported"


def _flat(prefix: str, values: dict) -> dict[str, str]:
    return {f"{prefix}.{k}": json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in values.items()}


def params_of(record: dict) -> dict[str, str]:
    """The experiment's identity as MLflow parameters (strings)."""
    experiment = record.get("experiment") or {}
    params = {
        "method": record["method"],
        "entry": record.get("label", record["method"]),
        "dataset": record.get("dataset_name") or record["dataset"],
        "layout": record["dataset"],
        "seed": str(record["seed"]),
        "image_size": str(experiment.get("image_size", record.get("image_size"))),
        "epochs": str(record.get("epochs")),
        "batch_size": str(record.get("batch_size")),
        "select": (experiment.get("dimensions") or {}).get("select", "last"),
        "method_revision": str(experiment.get("method_revision", 0)),
    }
    params.update({f"dimension.{k}": str(v) for k, v in (experiment.get("dimensions") or {}).items()})
    params.update(_flat("method_param", experiment.get("method_params") or {}))
    params.update(_flat("dataset_param", experiment.get("dataset_params") or {}))
    return params


def metrics_of(record: dict) -> dict[str, float]:
    """The cell's final metrics: AUROC, AUPRC, SEN@95SPE, the thresholded ones at the test's
    best-F1 threshold (``test_best_f1.*``), and the pixel metrics where there are masks."""
    metrics = record["metrics"]
    out = {k: float(metrics[k]) for k in ("auroc", "auprc", "sen_at_95spe") if metrics.get(k) is not None}
    for protocol, values in (metrics.get("thresholds") or {}).items():
        out.update({f"{protocol}.{k}": float(v) for k, v in values.items() if isinstance(v, (int, float))})
    pixel = record.get("pixel_metrics") or {}
    out.update({f"pixel.{k}": float(pixel[k]) for k in ("pixel_auroc", "aupro", "best_dice") if k in pixel})
    return out


def tags_of(record: dict) -> dict[str, str]:
    versions = record.get("versions") or {}
    return {
        KEY_TAG: record["key"],
        "benchbox.data_fingerprint": str((record.get("experiment") or {}).get("data")),
        "benchbox.code.method": str((record.get("code") or {}).get("method")),
        "benchbox.code.dataset": str((record.get("code") or {}).get("dataset")),
        "benchbox.version": str(versions.get("benchbox")),
        "torch.version": str(versions.get("torch")),
        "device": str(record.get("device")),
        "mlflow.runName": f"{record.get('label', record['method'])} · seed {record['seed']}",
    }


def artifact_location(tracking_uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite store (``mlartifacts/`` in
    the database's folder; MLflow's own default is ``./mlruns`` in whatever folder the export
    runs from); None (MLflow's choice) for a file store, which holds them, or a server."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    return (Path(tracking_uri[len(prefix) :]).resolve().parent / "mlartifacts").as_uri()


def export(records: list[dict], tracking_uri: str) -> tuple[int, int]:
    """Export the finished ``records`` (each with its ``_path``) to ``tracking_uri``; returns
    (runs created, cells already there)."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    from .report.figures import roc_figure

    client = MlflowClient(tracking_uri=tracking_uri)
    created = skipped = 0
    experiments: dict[str, str] = {}
    for record in records:
        if record.get("status") != "ok":
            continue
        name = f"benchbox/{record.get('dataset_name') or record['dataset']}"
        if name not in experiments:
            found = client.get_experiment_by_name(name)
            experiments[name] = (
                found.experiment_id
                if found
                else client.create_experiment(name, artifact_location=artifact_location(tracking_uri))
            )
        experiment = experiments[name]
        earlier = client.search_runs([experiment], filter_string=f"tags.`{KEY_TAG}` = '{record['key']}'")
        if any(r.data.tags.get(DONE_TAG) == "true" for r in earlier):
            skipped += 1
            continue
        for partial in earlier:  # an export stopped half-way: made again whole
            client.delete_run(partial.info.run_id)
        run = client.create_run(experiment, tags=tags_of(record))
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in metrics_of(record).items()]
        for entry in record.get("history") or []:  # per-epoch losses, the epoch as the step
            epoch = int(entry.get("epoch", 0))
            metrics += [
                Metric(f"train.{k}", float(v), now, epoch)
                for k, v in entry.items()
                if k != "epoch" and isinstance(v, (int, float))
            ]
        params = [Param(k, v) for k, v in params_of(record).items()]
        for start in range(0, len(params), 100):  # MLflow's limits per batch: 100 params, 1,000 metrics
            client.log_batch(run.info.run_id, params=params[start : start + 100])
        for start in range(0, len(metrics), 1000):
            client.log_batch(run.info.run_id, metrics=metrics[start : start + 1000])
        if (record.get("scores") or {}).get("labels"):
            with tempfile.TemporaryDirectory() as folder:  # the report's ROC figure, of this one run
                png, _ = roc_figure([record], params_of(record)["dataset"], Path(folder) / "roc", {})
                client.log_artifact(run.info.run_id, str(png))
        if record.get("_path"):
            client.log_artifact(run.info.run_id, record["_path"])
        client.set_tag(run.info.run_id, DONE_TAG, "true")  # last: a run without it is unfinished
        client.set_terminated(run.info.run_id)
        created += 1
    return created, skipped
