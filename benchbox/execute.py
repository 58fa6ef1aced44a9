"""Executing one cell: load its splits, train, score, evaluate, and write its record under
the cell's lock, resuming from its checkpoint. Every executor (local, --jobs, Ray) calls
:func:`run_cell_locked`, so a cell runs the same way wherever it runs.
"""

from __future__ import annotations

import json
import os
import platform
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .checkpoints import Cadence, Checkpointing
from .contracts import Dataset, ImageSet
from .errors import DataError, Diverged
from .leaks import audit
from .localisation import image_histograms, pixel_metrics
from .metrics import evaluate
from .plan import Cell
from .plugins import Plugins, source_digest
from .selection import Selection
from .store import SCHEMA, ResultStore
from .thumbnails import map_thumbnails, write_thumbnails
from .training import device_description


class DataCache:
    """Splits loaded once per process and shared by all cells that need them."""

    def __init__(self, plugins: Plugins):
        self.plugins = plugins
        self._sets: dict[tuple, ImageSet | None] = {}
        self._datasets: dict[tuple, Dataset] = {}

    def dataset(self, cell: Cell) -> Dataset:
        key = (cell.dataset, json.dumps(cell.dataset_params, sort_keys=True), cell.data_root)
        if key not in self._datasets:
            self._datasets[key] = self.plugins.make_dataset(
                cell.dataset, cell.dataset_params, cell.data_root, cell.cache_dir
            )
        return self._datasets[key]

    @staticmethod
    def key(cell: Cell, split: str) -> tuple:
        """What identifies one split of one cell's data (the cells that share it share its load)."""
        return (cell.dataset, json.dumps(cell.dataset_params, sort_keys=True), cell.data_root, split, cell.image_size)

    def validation(self, cell: Cell) -> tuple[ImageSet, ImageSet]:
        """``--select val``'s (training, validation) images."""
        key = self.key(cell, "select=val")
        if key not in self._sets:
            self._sets[key] = self.dataset(cell).validation_splits(cell.image_size)
        return self._sets[key]

    def leak_audit(self, cell: Cell) -> dict:
        """The leak audit of the cell's test split against its whole training split."""
        key = self.key(cell, "leaks")
        if key not in self._sets:
            dataset = self.dataset(cell)
            digests = dataset.file_digests("train")
            if digests is not None:
                digests = {**digests, **dataset.file_digests("test")}
            self._sets[key] = audit(self.split(cell, "train"), self.split(cell, "test"), digests)
        return self._sets[key]

    def split(self, cell: Cell, split: str) -> ImageSet | None:
        dataset = self.dataset(cell)
        key = self.key(cell, split)
        if key not in self._sets:
            self._sets[key] = dataset.load(split, cell.image_size) if split in dataset.splits() else None
        return self._sets[key]


def base_record(cell: Cell, provider) -> dict:
    """What every record holds, whatever happened: the configuration and provenance."""
    experiment = cell.experiment
    return {
        "schema": SCHEMA,
        "key": experiment.key,
        "experiment": experiment.as_dict(),
        # The experiment's names, and the method's parameters as it ran (run settings included).
        "label": experiment.label,
        "method": experiment.method,
        "dataset": experiment.dataset,  # the plugin (the layout); dataset_name: what tables call it
        "dataset_name": cell.dataset_name or experiment.dataset,
        "seed": experiment.seed,
        "image_size": experiment.image_size,
        "dataset_params": experiment.dataset_params,
        "method_params": cell.method_params,
        "seeds_requested": list(cell.seeds_requested),
        "epochs": cell.method_params.get("epochs"),
        "batch_size": cell.method_params.get("batch_size"),
        "device": device_description(str(cell.method_params.get("device", "cpu"))),
        "versions": {
            "benchbox": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "plugin": {"name": provider.plugin, "distribution": provider.distribution, "version": provider.version},
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def failure_record(cell: Cell, provider, error: str, trace: str = "") -> dict:
    return {**base_record(cell, provider), "status": "failed", "error": error, "traceback": trace, "timings": {}}


def execute_cell(
    cell: Cell,
    plugins: Plugins,
    data: DataCache,
    on_epoch: Callable | None = None,
    checkpoint: Checkpointing | None = None,
) -> dict:
    """Train and score one cell. Method failures become a record, never an exception;
    ``checkpoint`` goes to methods that declare themselves ``resumable``."""
    record = base_record(cell, plugins.methods.provider(cell.method))
    record["code"] = {  # the code it ran, to notice later edits (not part of the key: benchbox run says why)
        "method": source_digest(plugins.methods.get(cell.method)),
        "dataset": source_digest(plugins.datasets.get(cell.dataset)),
    }
    timings = {}
    try:
        start = time.perf_counter()
        rule = cell.experiment.dimensions.get("select", "last")
        if rule == "val":  # the validation split may be carved out of the training data
            train, val = data.validation(cell)
        else:
            train, val = data.split(cell, "train"), data.split(cell, "val")
        test = data.split(cell, "test")
        timings["load_s"] = time.perf_counter() - start
        if train is None or test is None:
            raise DataError(f"dataset {cell.dataset!r} has no train or test split")
        if train.labels.any():
            raise DataError(f"dataset {cell.dataset!r}: the train split holds anomalous images")
        start = time.perf_counter()
        record["leak_audit"] = dict(data.leak_audit(cell))
        timings["audit_s"] = time.perf_counter() - start
        if cell.experiment.dimensions.get("leaks") == "drop":
            flagged = set(record["leak_audit"]["flagged_ids"])
            test = test.subset([i for i, image_id in enumerate(test.ids) if image_id not in flagged])
            record["leak_audit"]["dropped"] = len(flagged)
        record["test_set"] = {"n": len(test), "hash": test.file_list_hash(), "classes": test.class_counts()}
        record["split"] = data.dataset(cell).provenance()
        method = plugins.methods.get(cell.method)(**cell.method_params)
        extra = {"checkpoint": checkpoint} if checkpoint is not None and method.resumable else {}
        selection = None
        if rule != "last":
            if rule == "val" and set(test.ids) & set(val.ids):
                raise DataError(f"dataset {cell.dataset!r}: its validation split holds test images")
            images, source = (
                (val, data.dataset(cell).labelled_validation()) if rule == "val" else (test, "the test split")
            )
            dimensions = cell.experiment.dimensions
            selection = Selection(
                rule, dimensions.get("select_every", 1), images, source, dimensions.get("select_metric", "auroc")
            )
            extra["selection"] = selection
        history = []  # per-epoch mean losses, for training curves

        def epoch_done(epoch, epochs, losses):
            history.append({"epoch": epoch, **{k: float(v) for k, v in losses.items()}})
            if on_epoch is not None:
                on_epoch(epoch, epochs, losses)

        start = time.perf_counter()
        method.fit(train, on_epoch=epoch_done, **extra)
        timings["fit_s"] = time.perf_counter() - start
        # A method that keeps its history across a resume (TorchMethod) has the whole of it.
        record["history"] = getattr(method, "history_", history)
        if getattr(method, "parts_", None):
            record["parts"] = method.parts_  # where each part of a resumed training ran
        if selection is not None:
            record["selection"] = selection.summary()
            timings["select_s"] = selection.seconds
            if rule == "val":
                record["selection"]["train_n"] = len(train)
        record["method_provenance"] = method.provenance()
        start = time.perf_counter()
        scores = _checked_scores(method, test)
        val_scores = _checked_scores(method, val) if val is not None else None
        timings["score_s"] = time.perf_counter() - start
        record["metrics"] = evaluate(test.labels, scores, None if val is None else val.labels, val_scores)
        record["scores"] = {
            "ids": test.ids,
            "classes": test.classes,
            "labels": test.labels.tolist(),
            "scores": scores.tolist(),
        }
        if val is not None:
            record["val_scores"] = {
                "ids": val.ids,
                "classes": val.classes,
                "labels": val.labels.tolist(),
                "scores": val_scores.tolist(),
            }
        record["_artifacts"] = method.artifacts(test)
        record["_test"] = test  # its thumbnails are made once per test set, beside the results
        start = time.perf_counter()
        maps = checked_maps(method, test)  # every test set: the report's explorer shows them
        if maps is not None:
            record["_artifacts"].update(map_thumbnails(maps))
            if test.has_masks():
                record["pixel_metrics"], figures = localise(maps, test)
                record["_artifacts"].update(figures)
            timings["map_s"] = time.perf_counter() - start
        record["status"] = "ok"
    except Diverged as error:
        record.update(status="diverged", error=str(error), diverged={"epoch": error.epoch, "loss": error.loss})
    except Exception as error:  # a failed cell is recorded; the grid goes on
        record.update(status="failed", error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
    record["timings"] = timings
    return record


def checked_maps(method, test: ImageSet) -> np.ndarray | None:
    """The method's anomaly maps of the test images (None where it makes none), checked."""
    maps = method.anomaly_maps(test)
    if maps is None:
        return None
    maps = np.asarray(maps)
    if maps.shape != (len(test), *test.images.shape[-2:]):
        raise ValueError(f"anomaly_maps returned shape {maps.shape}, expected {(len(test), *test.images.shape[-2:])}")
    if not np.all(np.isfinite(maps)):
        raise ValueError(f"anomaly_maps: {int((~np.isfinite(maps)).sum())} values are NaN or infinite")
    return maps


def localise(maps: np.ndarray, test: ImageSet, per_class: int = 3) -> tuple[dict, dict]:
    """Pixel metrics of a method's (checked) maps on the test images with known masks, and the
    arrays the report draws and bootstraps from: a few maps with their masks (``per_class`` of
    each class, the normal class first), and per-image histograms of the maps over positive and
    negative pixels (the significance test's pixel AUROC)."""
    masks = test.masks[:, 0].numpy()
    metrics = pixel_metrics(maps, masks, test.mask_known)
    classes = np.asarray(test.classes, dtype=object)
    order = sorted(set(test.classes), key=lambda c: (int(test.labels[classes == c][0]), c))
    index = np.concatenate([np.nonzero((classes == c) & test.mask_known)[0][:per_class] for c in order]).astype(
        np.int64
    )
    positive, negative = image_histograms(maps, masks, test.mask_known)
    figures = {
        "map_index": index,
        "map_images": test.images[torch.from_numpy(index), 0].numpy(),
        "maps": maps[index].astype(np.float32),
        "masks": masks[index],
        "pixel_hist_positive": positive,
        "pixel_hist_negative": negative,
    }
    return metrics, figures


def _checked_scores(method, images: ImageSet) -> np.ndarray:
    scores = np.asarray(method.score(images), dtype=np.float64)
    if scores.shape != (len(images),):
        raise ValueError(f"{method.name}.score returned shape {scores.shape}, expected ({len(images)},)")
    if not np.all(np.isfinite(scores)):
        bad = int((~np.isfinite(scores)).sum())
        raise Diverged(
            getattr(method, "epochs", 0),
            "score",
            f"diverged: {bad} of {len(scores)} anomaly scores are not finite after training",
        )
    return scores


def run_cell_locked(
    cell: Cell,
    plugins: Plugins,
    data: DataCache,
    store: ResultStore,
    *,
    force: bool,
    checkpoint_every: Cadence,
    on_epoch=None,
) -> dict | None:
    """Run one cell under its lock, resuming from its checkpoint; write and return its record.
    None when another live process holds the cell or finished it meanwhile."""
    path = store.path(cell)
    with store.lock(path) as held:
        if not held or (not force and store.status(path) == "ok"):
            return None
        checkpoint = store.checkpoint_path(path)
        log = CellLog(path.with_suffix(".log"))
        log.write(
            f"start {cell.label} · {cell.dataset} · seed {cell.seed} on {platform.node()} (pid {os.getpid()})"
            + (" resuming from checkpoint" if checkpoint.exists() else "")
        )

        def logged_epoch(epoch, epochs, losses):
            log.write(f"epoch {epoch}/{epochs} " + " ".join(f"{k}={v:.5g}" for k, v in losses.items()))
            if on_epoch is not None:
                on_epoch(epoch, epochs, losses)

        record = execute_cell(cell, plugins, data, logged_epoch, Checkpointing(str(checkpoint), checkpoint_every))
        log.write(
            f"end: {record['status']}"
            + (f" ({record['error']})" if record.get("error") else "")
            + (f"\n{record['traceback']}" if record.get("traceback") else "")
        )
        artifacts = record.pop("_artifacts", None)
        test = record.pop("_test", None)
        if test is not None:
            write_thumbnails(path, test)
        if artifacts:  # before the result: a result file implies its artifacts are complete
            store.write_artifacts(path, artifacts)
        store.write(path, record)
        checkpoint.unlink(missing_ok=True)  # done (or failed for good): start afresh next time
        return record


class CellLog:
    """Per-cell log beside the result (``<result>.log``), appended line by line, so a run's
    history survives crashes and remote workers."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, line: str) -> None:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {line}\n")


_WORKER_DATA: dict = {}


def run_in_worker(
    cell: Cell,
    results_root: str,
    *,
    force: bool,
    checkpoint_every: Cadence,
    by_hand=(),
    threads: int | None = None,
    on_epoch=None,
) -> dict | None:
    """A worker process's entry point (``--jobs`` and Ray): the driver's plugins (those it
    registered by hand imported by module name), splits kept loaded for the process's later
    cells, and a stop request that saves the training state first."""
    from .plugins import worker_plugins
    from .stopping import StopRequests

    if threads:
        torch.set_num_threads(threads)
    plugins = worker_plugins(by_hand)
    data = _WORKER_DATA.setdefault("data", DataCache(plugins))
    with StopRequests():
        return run_cell_locked(
            cell,
            plugins,
            data,
            ResultStore(results_root),
            force=force,
            checkpoint_every=checkpoint_every,
            on_epoch=on_epoch,
        )
