"""What an experiment *is*, in one place.

An :class:`Experiment` is the frozen description of one cell's experiment: the method and its
parameters (without the settings that only say where and how fast it runs), the dataset and its
parameters, the image size, the seed, the method's revision, the data's fingerprint, and the
protocol dimensions of :data:`DIMENSIONS`. Its key (the store's name for the result), its row
label, its result path (:meth:`benchbox.store.ResultStore.path`) and the group the tables
average over seeds all derive from it, so a new dimension is one line of :data:`DIMENSIONS`.

:class:`RunSettings` are the options the planner hands to every method that declares a
parameter of that name (``--epochs``, ``--device``, ...); each says whether it changes what is
computed (then it is part of the experiment through the method's parameters) or only how it
runs. A new option is one field there: the CLI's options and the planner follow from it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ParamError


@dataclass(frozen=True)
class Dimension:
    """A protocol choice beyond the method's and the dataset's parameters (how the checkpoint
    is chosen, which features...). At its default it is left out of the key and the label, so
    adding a dimension keeps every existing key."""

    name: str
    default: Any
    help: str = ""
    choices: tuple = ()  # allowed values, where they are a few names


#: How the checkpoint that is scored was chosen: the rule, and what every table and report says
#: of a number made under it. Only ``last`` is one-class; a number under ``test`` is an oracle's.
SELECTION_RULES = {
    "last": "last epoch",
    "val": "selected on a labelled validation split (anomalies seen)",
    "test": "selected on the test labels (oracle: optimistic, not a result)",
}

#: The protocol dimensions every experiment has.
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "select",
        "last",
        "Which checkpoint is scored: last (the last epoch), val (the best validation AUROC on a "
        "labelled validation split), test (the best test AUROC: an oracle, to reproduce numbers "
        "published that way). A trained method's checkpoints only.",
        choices=tuple(SELECTION_RULES),
    ),
    Dimension("select_every", 1, "With --select val|test: score the selection split every N epochs (and the last)."),
    Dimension(
        "select_metric",
        "auroc",
        "With --select val|test: what the selection split is scored by: auroc (image level), or pixel_auroc "
        "over its masks (BMAD's rule for RD4AD; methods with anomaly maps).",
        choices=("auroc", "pixel_auroc"),
    ),
    Dimension(
        "leaks",
        "keep",
        "Test images that copy a training image (identical bytes, or near-identical: benchbox.leaks): "
        "keep them (every result records the audit) or drop them from the test set.",
        choices=("keep", "drop"),
    ),
)


def _dimension(name: str) -> Dimension:
    for dim in DIMENSIONS:
        if dim.name == name:
            return dim
    known = ", ".join(d.name for d in DIMENSIONS) or "(none)"
    raise ParamError(f"unknown experiment dimension {name!r}; known: {known}")


_METHOD_NAME = re.compile(r"[A-Za-z_][\w\-]*")


def method_of(label: str) -> str:
    """The method's name at the start of a row label (``salad[ssl=none]; select=val`` -> ``salad``)."""
    found = _METHOD_NAME.match(label)
    return found.group(0) if found else label


@dataclass(frozen=True)
class Experiment:
    method: str
    #: What the method computes with: its parameters less ``seed`` and the run settings that do
    #: not change results (:data:`EXECUTION_PARAMS`).
    method_params: dict
    dataset: str
    dataset_params: dict
    image_size: int
    seed: int
    method_revision: int = 0  # the method class's ``revision``
    data: str | None = None  # the dataset's ``fingerprint()``; None: its parameters define it
    #: Non-default values of :data:`DIMENSIONS` only.
    dimensions: dict = field(default_factory=dict)
    #: The method entry as the user wrote it, parameters sorted (``salad[ssl=none]``): names
    #: the row; not part of the key (two spellings of one experiment are refused by the planner).
    entry: str = ""

    def __post_init__(self):
        # A default is never stored, so that keys stay as they were before a dimension existed.
        given = {name: value for name, value in self.dimensions.items() if value != _dimension(name).default}
        object.__setattr__(self, "dimensions", given)

    def defining(self) -> dict:
        """Everything that makes two results comparable or not; the key hashes it."""
        out = {
            "method": self.method,
            "method_params": self.method_params,
            "dataset": self.dataset,
            "dataset_params": self.dataset_params,
            "image_size": self.image_size,
            "seed": self.seed,
            "method_revision": self.method_revision,
            "data": self.data,
        }
        out.update({f"dimension.{k}": v for k, v in sorted(self.dimensions.items())})
        return out

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.defining(), sort_keys=True).encode()).hexdigest()

    @property
    def label(self) -> str:
        """The row label: the method entry, then each non-default dimension."""
        base = self.entry or self.method
        return "; ".join([base, *(f"{k}={v}" for k, v in sorted(self.dimensions.items()))])

    def group(self) -> dict[str, str]:
        """What the tables average over: the defining items but the seed, flattened to
        name -> text, so that rows that differ in any of them are never averaged."""
        items = {}
        for name, value in self.defining().items():
            if name == "seed":
                continue
            if isinstance(value, dict):
                prefix = self.dataset if name == "dataset_params" else ""
                items.update({f"{prefix}.{k}" if prefix else k: repr(v) for k, v in value.items()})
            else:
                items[name] = "" if value is None else str(value)
        return items

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_record(cls, record: dict) -> Experiment:
        """The experiment a result record was made for (its ``experiment`` field)."""
        return cls(**{**record["experiment"], "dimensions": dict(record["experiment"].get("dimensions") or {})})


# -- run settings ---------------------------------------------------------------------------
def _setting(kind: type, help: str, *, defining: bool, choices: tuple = ()):
    return field(default=None, metadata={"kind": kind, "help": help, "defining": defining, "choices": choices})


@dataclass(frozen=True)
class RunSettings:
    """Options handed to every method that declares a parameter of the same name (the CLI has
    one ``--option`` per field); None: the dataset's default where it has one (epochs, batch
    size), else the method's own. ``defining``: whether it changes what is computed (then it
    is part of the experiment, through the method's parameters)."""

    epochs: int | None = _setting(int, "Training epochs (default: the dataset's, else the method's).", defining=True)
    batch_size: int | None = _setting(
        int, "Mini-batch size (default: the dataset's, else the method's).", defining=True
    )
    device: str | None = _setting(str, "cpu, cuda, cuda:N or auto (default: cpu).", defining=False)
    precision: str | None = _setting(
        str,
        "bf16: mixed precision (autocast) for methods that support it (default: fp32).",
        defining=True,
        choices=("fp32", "bf16"),
    )
    channels_last: bool | None = _setting(bool, "Channels-last (NHWC) tensors; can be faster on GPUs.", defining=False)
    compile: bool | None = _setting(bool, "torch.compile the networks (slow first epoch).", defining=False)

    def given(self) -> dict:
        """The settings given (not None); a flag left off is not given."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None and getattr(self, f.name) is not False
        }


#: Run settings that say where and how fast a cell runs, not what it computes: not part of
#: an experiment.
EXECUTION_PARAMS = tuple(f.name for f in fields(RunSettings) if not f.metadata["defining"])
