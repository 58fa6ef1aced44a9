"""Planning a grid: methods × datasets × seeds expanded into cells, every option validated
before anything runs. A :class:`Cell` is all a worker needs to run one experiment.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from . import experiment as _experiment
from .contracts import Dataset, Method
from .errors import DataError, ParamError
from .experiment import EXECUTION_PARAMS, SELECTION_RULES, Experiment, RunSettings
from .params import label as make_label
from .params import parse_entry
from .plugins import Plugins

DEFAULT_IMAGE_SIZE = 64


@dataclass(frozen=True)
class Cell:
    """One run: an :class:`Experiment`, and how to run it."""

    experiment: Experiment
    method_params: dict  # everything the method is built with: seed and run settings included
    seeds_requested: tuple = ()
    data_root: str | None = None
    cache_dir: str | None = None
    #: The dataset's name in tables and reports (:meth:`Dataset.display_name`, or ``--param
    #: <dataset>.name``); not part of the key: the data, not its name, defines a result.
    dataset_name: str = ""

    # The experiment's names, for the many places that print or look up a cell.
    key = property(lambda self: self.experiment.key)
    label = property(lambda self: self.experiment.label)
    method = property(lambda self: self.experiment.method)
    dataset = property(lambda self: self.experiment.dataset)
    dataset_params = property(lambda self: self.experiment.dataset_params)
    image_size = property(lambda self: self.experiment.image_size)
    seed = property(lambda self: self.experiment.seed)


def checked_dataset(dataset: Dataset) -> Dataset:
    """What planning checks of every dataset once it is built: its data found, and valid."""
    where, found = dataset.location()
    if not found:
        raise DataError(
            f"dataset {dataset.name!r}: no data found ({where})."
            + (f" Expected layout: {dataset.layout}." if dataset.layout else "")
            + (f" Published: {dataset.published}." if dataset.published else "")
        )
    dataset.validate()
    return dataset


def checked_method(cls: type[Method], params: dict, image_size: int) -> Method:
    """The method built and validated for ``image_size``: what planning checks of every method."""
    cls.check_image_size(image_size)
    method = cls(**params)
    method.validate()
    return method


def run_settings(given: dict) -> RunSettings:
    try:
        return RunSettings(**given)
    except TypeError:
        known = ", ".join(f.name for f in fields(RunSettings))
        raise ParamError(f"unknown run setting in {sorted(given)}; known: {known}") from None


def checked_dimensions(given: dict | None) -> dict:
    """The protocol dimensions, every one given or at its default, their values checked."""
    known = {d.name: d.default for d in _experiment.DIMENSIONS}
    unknown = sorted(set(given or {}) - set(known))
    if unknown:
        raise ParamError(f"unknown experiment dimension(s) {', '.join(unknown)}; known: {', '.join(known)}")
    values = {**known, **{k: v for k, v in (given or {}).items() if v is not None}}
    rule, every = values.get("select", "last"), values.get("select_every", 1)
    if rule not in SELECTION_RULES:
        raise ParamError(f"--select: expected one of {', '.join(SELECTION_RULES)}, got {rule!r}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ParamError(f"--select-every must be a positive integer, got {every!r}")
    if values.get("leaks", "keep") not in ("keep", "drop"):
        raise ParamError(f"--leaks: expected keep or drop, got {values['leaks']!r}")
    if rule == "last" and every != 1:
        raise ParamError("--select-every applies to --select val or test; the last epoch is not chosen")
    if values.get("select_metric", "auroc") not in ("auroc", "pixel_auroc"):
        raise ParamError(f"--select-metric: expected auroc or pixel_auroc, got {values['select_metric']!r}")
    if rule == "last" and values.get("select_metric", "auroc") != "auroc":
        raise ParamError("--select-metric applies to --select val or test; the last epoch is not chosen")
    return values


def selectable(cls: type[Method]) -> bool:
    """Whether a method has checkpoints to choose among (``--select val|test``)."""
    return bool(getattr(cls, "selectable", False))


def plan(
    plugins: Plugins,
    method_entries: list[str],
    datasets: list[str],
    seeds: list[int],
    *,
    image_size: int | None = None,
    overrides: list[tuple[str, str, str]] = (),
    data_root=None,
    cache_dir=None,
    dimensions: dict | None = None,
    **settings,
) -> list[Cell]:
    """Expand and validate the grid. Every user mistake raises here, before any training.
    ``settings``: :class:`RunSettings` (``epochs=``, ``device=``, ...); ``dimensions``: values of
    :data:`benchbox.experiment.DIMENSIONS`."""
    settings = run_settings(settings)
    dimensions = checked_dimensions(dimensions)
    if not seeds:
        raise ParamError("--seeds: give at least one seed")
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:  # one seed twice is one run: the table would say n = 1/2 as if a seed were missing
        raise ParamError(f"--seeds: seed {', '.join(map(str, repeated))} given more than once")
    for option, value in (
        ("--image-size", image_size),
        ("--epochs", settings.epochs),
        ("--batch-size", settings.batch_size),
    ):
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
        dataset_params = dict(by_target.get(dataset_name, {}))
        title = dataset_params.pop("name", None)  # a name, not a parameter: it changes no result
        if title is not None and not str(title).strip():
            raise ParamError(f"--param {dataset_name}.name: expected a dataset name, got {title!r}")
        dataset = checked_dataset(plugins.make_dataset(dataset_name, dataset_params, data_root, cache_dir))
        title = str(title).strip() if title is not None else dataset.display_name()
        fingerprint = dataset.fingerprint()
        if dimensions.get("select") == "val":
            dataset.labelled_validation()  # raises, saying what is missing, where there is none
            extra = dataset.validation_fingerprint()
            with_val = fingerprint if extra is None else f"{fingerprint}+val:{extra}"
        size = image_size or dataset.default_image_size or DEFAULT_IMAGE_SIZE
        run_values = {
            **settings.given(),
            "epochs": settings.epochs or dataset.default_epochs,
            "batch_size": settings.batch_size or dataset.default_batch_size,
        }
        for name, inline in parsed:
            cls = plugins.methods.get(name)
            declared = cls.param_defaults()
            given = {k: v for k, v in run_values.items() if k in declared and v is not None}
            given.update(by_target.get(name, {}))
            given.update(inline)
            # A method without epochs has no checkpoint to choose: it runs as --select last.
            chosen = dimensions
            if not selectable(cls) and "select" in dimensions:
                chosen = {**dimensions, "select": "last", "select_every": 1, "select_metric": "auroc"}
            data = with_val if chosen.get("select") == "val" else fingerprint
            # A method the seed does not change runs once: more seeds would repeat its numbers.
            runs = list(seeds[:1]) if getattr(cls, "seed_independent", False) else list(seeds)
            for seed in runs:
                params = checked_method(cls, {**given, "seed": seed}, size).get_params()
                experiment = Experiment(
                    method=name,
                    entry=make_label(name, inline),
                    method_params={k: v for k, v in params.items() if k != "seed" and k not in EXECUTION_PARAMS},
                    dataset=dataset_name,
                    dataset_params=dataset.get_params(),
                    image_size=size,
                    seed=seed,
                    method_revision=cls.revision,
                    data=data,
                    dimensions=chosen,
                )
                cells.append(Cell(experiment, params, tuple(runs), data_root, cache_dir, title))
    labels = {}
    for cell in cells:  # two entries that differ only in spelling would overwrite each other
        other = labels.setdefault(cell.key, cell.label)
        if other != cell.label:
            raise ParamError(f"method entries {other!r} and {cell.label!r} define the same experiment")
    return cells
