"""The grid: methods × datasets × seeds, one cell at a time, each cell one result file.

Planning (validating every option before anything runs) and executing are apart:
an executor only needs ``execute_cell`` and a callback for finished records.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import __version__
from .contracts import Dataset, ImageSet
from .errors import DataError, Diverged, ParamError
from .metrics import evaluate
from .params import DEFAULT_PRECISION, EXECUTION_PARAMS
from .params import label as make_label
from .params import parse_entry
from .plugins import Plugins
from .store import SCHEMA, ResultStore

DEFAULT_IMAGE_SIZE = 64


@dataclass
class Cell:
    """One run: a method (with parameters) on a dataset with a seed."""

    label: str
    method: str
    method_params: dict  # the method's complete parameters (defaults resolved)
    dataset: str
    dataset_params: dict
    image_size: int
    seed: int
    seeds_requested: list = field(default_factory=list)
    method_revision: int = 0  # the method class's ``revision``
    data_fingerprint: str | None = None  # the dataset's ``fingerprint()``: which images
    data_root: str | None = None
    cache_dir: str | None = None

    @property
    def key(self) -> str:
        """Hash of what defines the experiment; where it ran (device, paths) is not part of it."""
        defining = {
            "method": self.method,
            "method_params": {k: v for k, v in self.method_params.items() if k not in EXECUTION_PARAMS
                              and not (k == "precision" and v == DEFAULT_PRECISION)},
            "dataset": self.dataset,
            "dataset_params": self.dataset_params,
            "image_size": self.image_size,
            "seed": self.seed,
        }
        if self.method_revision:  # absent at 0: keys of results made before revisions existed
            defining["method_revision"] = self.method_revision
        if self.data_fingerprint is not None:  # other images, other experiment
            defining["data"] = self.data_fingerprint
        return hashlib.sha256(json.dumps(defining, sort_keys=True).encode()).hexdigest()


def make_dataset(plugins: Plugins, name: str, params: dict, data_root=None, cache_dir=None) -> Dataset:
    cls = plugins.datasets.get(name)
    return cls(data_root=data_root, cache_dir=cache_dir, **params)


def plan(plugins: Plugins, method_entries: list[str], datasets: list[str], seeds: list[int], *,
         image_size: int | None = None, epochs: int | None = None, batch_size: int | None = None,
         device: str = "cpu", precision: str | None = None, channels_last: bool | None = None,
         compile: bool | None = None, overrides: list[tuple[str, str, str]] = (), data_root=None,
         cache_dir=None) -> list[Cell]:
    """Expand and validate the grid. Every user mistake raises here, before any training."""
    if not seeds:
        raise ParamError("--seeds: give at least one seed")
    for option, value in (("--image-size", image_size), ("--epochs", epochs), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise ParamError(f"{option} must be a positive integer, got {value}")
    parsed = [parse_entry(e) for e in method_entries]
    for name, _ in parsed:
        plugins.methods.get(name)
    for name in datasets:
        plugins.datasets.get(name)
    by_target: dict[str, dict] = {}
    for target, key, value in overrides:
        if target not in plugins.methods and target not in plugins.datasets:
            raise ParamError(
                f"--param {target}.{key}={value}: {target!r} is neither a method nor a dataset; "
                f"methods: {', '.join(plugins.methods.names())}; datasets: {', '.join(plugins.datasets.names())}"
            )
        by_target.setdefault(target, {})[key] = value

    cells = []
    for dataset_name in datasets:
        dataset = make_dataset(plugins, dataset_name, by_target.get(dataset_name, {}), data_root, cache_dir)
        where, found = dataset.location()
        if not found:
            layout = getattr(dataset, "layout", "")
            raise DataError(f"dataset {dataset_name!r}: no data found at {where}."
                            + (f" Expected layout: {layout}." if layout else "")
                            + (f" Published: {dataset.published}." if dataset.published else ""))
        dataset.validate()
        fingerprint = dataset.fingerprint()
        size = image_size or dataset.default_image_size or DEFAULT_IMAGE_SIZE
        for name, inline in parsed:
            cls = plugins.methods.get(name)
            declared = cls.param_defaults()
            given = {}
            run_values = {"epochs": epochs or dataset.default_epochs,
                          "batch_size": batch_size or dataset.default_batch_size, "device": device,
                          "precision": precision, "channels_last": channels_last, "compile": compile}
            for key, value in run_values.items():
                if key in declared and value is not None:
                    given[key] = value
            given.update(by_target.get(name, {}))
            given.update(inline)
            if hasattr(cls, "check_image_size"):  # optional hook: refuse sizes before training
                cls.check_image_size(size)
            for seed in seeds:
                params = cls(**{**given, "seed": seed}).get_params()
                cells.append(Cell(
                    label=make_label(name, inline), method=name, method_params=params,
                    method_revision=cls.revision, data_fingerprint=fingerprint,
                    dataset=dataset_name, dataset_params=dataset.get_params(), image_size=size,
                    seed=seed, seeds_requested=list(seeds), data_root=data_root, cache_dir=cache_dir,
                ))
    labels = {}
    for cell in cells:  # two entries that differ only in spelling would overwrite each other
        other = labels.setdefault((cell.dataset, cell.seed, cell.key), cell.label)
        if other != cell.label:
            raise ParamError(f"method entries {other!r} and {cell.label!r} define the same experiment")
    return cells


class DataCache:
    """Splits loaded once per process and shared by all cells that need them."""

    def __init__(self, plugins: Plugins):
        self.plugins = plugins
        self._sets: dict[tuple, ImageSet | None] = {}
        self._datasets: dict[tuple, Dataset] = {}

    def dataset(self, cell: Cell) -> Dataset:
        key = (cell.dataset, json.dumps(cell.dataset_params, sort_keys=True), cell.data_root)
        if key not in self._datasets:
            self._datasets[key] = make_dataset(self.plugins, cell.dataset, cell.dataset_params,
                                               cell.data_root, cell.cache_dir)
        return self._datasets[key]

    def split(self, cell: Cell, split: str) -> ImageSet | None:
        dataset = self.dataset(cell)
        key = (cell.dataset, json.dumps(cell.dataset_params, sort_keys=True), cell.data_root, split, cell.image_size)
        if key not in self._sets:
            self._sets[key] = dataset.load(split, cell.image_size) if split in dataset.splits() else None
        return self._sets[key]


def device_description(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({platform.machine()}, {_cpu_model()}, {torch.get_num_threads()} threads)"


def _cpu_model() -> str:
    """The CPU's model name (platform.processor() is empty on most Linux systems)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown model"


def base_record(cell: Cell, provider) -> dict:
    """What every record holds, whatever happened: the configuration and provenance."""
    return {
        "schema": SCHEMA, "key": cell.key, "label": cell.label, "method": cell.method,
        "method_params": cell.method_params, "method_revision": cell.method_revision, "dataset": cell.dataset,
        "data_fingerprint": cell.data_fingerprint,
        "dataset_params": cell.dataset_params, "image_size": cell.image_size, "seed": cell.seed,
        "seeds_requested": cell.seeds_requested,
        "epochs": cell.method_params.get("epochs"), "batch_size": cell.method_params.get("batch_size"),
        "device": device_description(str(cell.method_params.get("device", "cpu"))),
        "versions": {
            "benchbox": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(),
            "plugin": {"name": provider.plugin, "distribution": provider.distribution, "version": provider.version},
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def failure_record(cell: Cell, provider, error: str, trace: str = "") -> dict:
    return {**base_record(cell, provider), "status": "failed", "error": error, "traceback": trace, "timings": {}}


def execute_cell(cell: Cell, plugins: Plugins, data: DataCache, on_epoch: Callable | None = None,
                 checkpoint: tuple | None = None) -> dict:
    """Train and score one cell. Method failures become a record, never an exception;
    ``checkpoint`` = (path, every N epochs) for methods that can save their training state."""
    record = base_record(cell, plugins.methods.provider(cell.method))
    timings = {}
    try:
        start = time.perf_counter()
        train = data.split(cell, "train")
        test = data.split(cell, "test")
        val = data.split(cell, "val")
        timings["load_s"] = time.perf_counter() - start
        if train is None or test is None:
            raise DataError(f"dataset {cell.dataset!r} has no train or test split")
        if train.labels.any():
            raise DataError(f"dataset {cell.dataset!r}: the train split holds anomalous images")
        record["test_set"] = {"n": len(test), "hash": test.file_list_hash(), "classes": test.class_counts()}
        record["split"] = data.dataset(cell).provenance()
        method = plugins.methods.get(cell.method)(**cell.method_params)
        if checkpoint is not None and hasattr(method, "checkpoint_path"):
            method.checkpoint_path, method.checkpoint_every = str(checkpoint[0]), checkpoint[1]
        history = []  # per-epoch mean losses, for training curves (a resumed run: since resuming)

        def epoch_done(epoch, epochs, losses):
            history.append({"epoch": epoch, **{k: float(v) for k, v in losses.items()}})
            if on_epoch is not None:
                on_epoch(epoch, epochs, losses)

        start = time.perf_counter()
        method.fit(train, on_epoch=epoch_done)
        timings["fit_s"] = time.perf_counter() - start
        record["history"] = history
        start = time.perf_counter()
        scores = _checked_scores(method, test)
        val_scores = _checked_scores(method, val) if val is not None else None
        timings["score_s"] = time.perf_counter() - start
        record["metrics"] = evaluate(test.labels, scores,
                                     None if val is None else val.labels, val_scores)
        record["scores"] = {"ids": test.ids, "classes": test.classes,
                            "labels": test.labels.tolist(), "scores": scores.tolist()}
        if val is not None:
            record["val_scores"] = {"ids": val.ids, "classes": val.classes,
                                    "labels": val.labels.tolist(), "scores": val_scores.tolist()}
        if hasattr(method, "artifacts"):
            record["_artifacts"] = method.artifacts(test)
        record["status"] = "ok"
    except Diverged as error:
        record.update(status="diverged", error=str(error), diverged={"epoch": error.epoch, "loss": error.loss})
    except Exception as error:  # a failed cell is recorded; the grid goes on
        record.update(status="failed", error=f"{type(error).__name__}: {error}",
                      traceback=traceback.format_exc())
    record["timings"] = timings
    return record


def _checked_scores(method, images: ImageSet) -> np.ndarray:
    scores = np.asarray(method.score(images.images), dtype=np.float64)
    if scores.shape != (len(images),):
        raise ValueError(f"{method.name}.score returned shape {scores.shape}, expected ({len(images)},)")
    if not np.all(np.isfinite(scores)):
        raise Diverged(getattr(method, "epochs", 0), "score")
    return scores


def run_cell_locked(cell: Cell, plugins: Plugins, data: DataCache, store: ResultStore, *,
                    force: bool, checkpoint_every: int | str, on_epoch=None) -> dict | None:
    """Run one cell under its lock, resuming from its checkpoint; write and return its record.
    None when another live process holds the cell or finished it meanwhile."""
    path = store.path(cell.dataset, cell.label, cell.seed, cell.key)
    with store.lock(path) as held:
        if not held or (not force and store.status(path) == "ok"):
            return None
        checkpoint = store.checkpoint_path(path)
        log = CellLog(path.with_suffix(".log"))
        log.write(f"start {cell.label} · {cell.dataset} · seed {cell.seed} on {platform.node()} (pid {os.getpid()})"
                  + (" resuming from checkpoint" if checkpoint.exists() else ""))

        def logged_epoch(epoch, epochs, losses):
            log.write(f"epoch {epoch}/{epochs} " + " ".join(f"{k}={v:.5g}" for k, v in losses.items()))
            if on_epoch is not None:
                on_epoch(epoch, epochs, losses)

        record = execute_cell(cell, plugins, data, logged_epoch, checkpoint=(checkpoint, checkpoint_every))
        log.write(f"end: {record['status']}" + (f" ({record['error']})" if record.get("error") else "")
                  + (f"\n{record['traceback']}" if record.get("traceback") else ""))
        artifacts = record.pop("_artifacts", None)
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


class LocalExecutor:
    """Runs cells one after another in this process."""

    def run(self, cells: list[Cell], plugins: Plugins, store: ResultStore, *, force: bool,
            checkpoint_every: int | str, on_start, on_epoch, on_done) -> None:
        data = DataCache(plugins)
        for cell in cells:
            on_start(cell)
            record = run_cell_locked(cell, plugins, data, store, force=force, checkpoint_every=checkpoint_every,
                                     on_epoch=lambda *a, c=cell: on_epoch(c, *a))
            on_done(cell, record)


@dataclass
class GridSummary:
    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    busy: list = field(default_factory=list)  # held by another live process


def run_grid(cells: list[Cell], plugins: Plugins, store: ResultStore, *, force: bool = False,
             executor=None, progress=None, checkpoint_every: int | str = 1) -> GridSummary:
    """Run every cell whose result is not already in ``store`` (or all with ``force``)."""
    from .progress import NullProgress
    from .training import checkpoint_interval

    checkpoint_interval(checkpoint_every)  # refuse a bad value before anything trains

    progress = progress or NullProgress()
    summary = GridSummary()
    todo = []
    for cell in cells:
        path = store.path(cell.dataset, cell.label, cell.seed, cell.key)
        if not force and store.status(path) == "ok":
            summary.skipped.append(cell)
        else:
            todo.append(cell)
    progress.start_grid(len(cells), len(summary.skipped))

    def on_done(cell, record):
        if record is None:
            summary.busy.append(cell)
        else:
            (summary.done if record["status"] == "ok" else summary.failed).append((cell, record))
        progress.end_cell(cell, record)

    try:
        (executor or LocalExecutor()).run(todo, plugins, store, force=force, checkpoint_every=checkpoint_every,
                                          on_start=progress.start_cell, on_epoch=progress.epoch, on_done=on_done)
    finally:
        progress.end_grid()
    return summary
