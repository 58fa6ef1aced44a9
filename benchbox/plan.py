"""Planning a grid: methods × datasets × seeds expanded into cells, every option validated
before anything runs. A :class:`Cell` is all a worker needs to run one experiment; its key
names the experiment in the result store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .contracts import Dataset
from .errors import DataError, ParamError
from .params import DEFAULT_PRECISION, EXECUTION_PARAMS
from .params import label as make_label
from .params import parse_entry
from .plugins import Plugins

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
            raise DataError(f"dataset {dataset_name!r}: no data found ({where})."
                            + (f" Expected layout: {dataset.layout}." if dataset.layout else "")
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
            cls.check_image_size(size)  # refuse a size before anything trains
            for seed in seeds:
                method = cls(**{**given, "seed": seed})
                method.validate()
                params = method.get_params()
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
