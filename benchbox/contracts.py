"""The two contracts every plugin fulfils: :class:`Method` and :class:`Dataset`."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from . import params as _params


@dataclass
class ImageSet:
    """Images of one split, one channel, uint8, N×1×S×S, with labels and provenance.

    ``labels``: 0 normal, 1 anomalous. ``classes``: the class name of each image (e.g.
    NORMAL, CNV). ``ids``: each image's path relative to the dataset root (bare names
    collide in the published datasets). ``masks``: where the dataset has pixel ground truth, a
    uint8 N×1×S×S tensor, 1 on anomalous pixels (a normal image's mask is all 0); ``mask_known``
    says which images' masks are ground truth (False: an anomalous image without a mask, e.g.
    COVID-QU-Ex's Non-COVID images, never counted in pixel metrics).
    """

    images: torch.Tensor
    labels: np.ndarray
    classes: list[str]
    ids: list[str]
    masks: torch.Tensor | None = None
    mask_known: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.images)
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 1:
            raise ValueError(f"images must be uint8 N×1×H×W, got {self.images.dtype} {tuple(self.images.shape)}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if not (len(self.labels) == len(self.classes) == len(self.ids) == n):
            raise ValueError("images, labels, classes and ids must have the same length")
        if self.masks is None:
            self.mask_known = None
            return
        if self.masks.dtype != torch.uint8 or self.masks.shape != self.images.shape:
            raise ValueError(
                f"masks must be uint8 of the images' shape, got {self.masks.dtype} {tuple(self.masks.shape)}"
            )
        known = np.ones(n, dtype=bool) if self.mask_known is None else np.asarray(self.mask_known, dtype=bool)
        if known.shape != (n,):
            raise ValueError("mask_known must hold one flag per image")
        self.mask_known = known

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index) -> ImageSet:
        index = np.asarray(index, dtype=np.int64)
        return ImageSet(
            self.images[torch.from_numpy(index)],
            self.labels[index],
            [self.classes[i] for i in index],
            [self.ids[i] for i in index],
            None if self.masks is None else self.masks[torch.from_numpy(index)],
            None if self.mask_known is None else self.mask_known[index],
        )

    def has_masks(self) -> bool:
        """Whether pixel metrics can be computed: known masks with anomalous pixels."""
        return self.masks is not None and bool(self.masks[torch.from_numpy(self.mask_known)].any())

    def file_list_hash(self) -> str:
        """Hash of (id, class) pairs: equal hashes mean the same test set."""
        return file_list_hash(self.ids, self.classes)

    def class_counts(self) -> dict[str, int]:
        names, counts = np.unique(np.asarray(self.classes, dtype=object), return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts)}


def file_list_hash(ids, classes) -> str:
    """Hash of (id, class) pairs, in any order: :meth:`ImageSet.file_list_hash`."""
    payload = json.dumps(sorted(zip(ids, classes)), separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


class Configurable:
    """Keyword parameters declared in ``params`` (with defaults), stored as attributes;
    ``choices`` and ``ranges`` say which values are allowed (:mod:`benchbox.params`).

    ``renamed``: old name -> new name of parameters that were renamed; the old spelling is
    still accepted (``salad[score=image]``). A parameter may not be named like an attribute of
    the class (``score`` would hide the method): :func:`benchbox.params.resolve` refuses it.
    """

    name: ClassVar[str] = ""
    #: How tables and papers name it (``SSIM-AE``, ``Chest X-ray``); default: ``name``.
    title: ClassVar[str] = ""
    #: Its reference(s) as BibTeX entries with stable keys, cited after its name in LaTeX tables
    #: and written to a report's ``references.bib`` (``benchbox cite``); "" where there is none.
    citation: ClassVar[str] = ""
    params: ClassVar[dict] = {}
    choices: ClassVar[dict] = {}
    #: Allowed numbers: ``{"lr": "> 0", "share": "(0, 1]", "shift": "any"}``, checked when the
    #: class is built (while planning).
    ranges: ClassVar[dict] = {}
    #: For free-form string parameters, a value the class refuses while planning (in
    #: ``validate``): the conformance checks feed it to see that it is refused.
    invalid_examples: ClassVar[dict] = {}
    renamed: ClassVar[dict] = {}

    def __init__(self, **kwargs):
        self._params = _params.resolve(self.name or type(self).__name__, type(self), kwargs)
        for key, value in self._params.items():
            setattr(self, key, value)

    @classmethod
    def param_defaults(cls) -> dict:
        return _params.declared_params(cls)

    def get_params(self) -> dict:
        return dict(self._params)


class Method(Configurable):
    """An anomaly-detection method: learns from normal images, scores any images.

    Subclasses set ``name`` and ``params`` and implement :meth:`fit` and :meth:`score`; the
    other hooks are optional, with the defaults below. ``__init__`` only stores parameters;
    learned state lives in attributes ending in ``_``. The planner sets ``seed`` and, where
    the method declares a parameter of that name, each run setting
    (:class:`benchbox.experiment.RunSettings`: ``epochs``, ``batch_size``, ``device``,
    ``precision``, ...).
    """

    params = {"seed": 0}
    ranges = {"seed": ">= 0"}
    #: Raised when a fix changes what the method computes with unchanged parameters, so that
    #: results made before the fix get other keys and are never reused for it (0: no fix yet).
    revision: ClassVar[int] = 0
    #: True when ``fit`` takes ``checkpoint=`` (a :class:`benchbox.checkpoints.Checkpointing`):
    #: it then resumes from the saved state, saves on its cadence, and on a stop request
    #: (:mod:`benchbox.stopping`) saves and raises ``Interrupted``. Otherwise a killed cell
    #: starts again from the beginning.
    resumable: ClassVar[bool] = False
    #: True when ``fit`` takes ``selection=`` (a :class:`benchbox.selection.Selection`): the
    #: method has epochs, calls ``selection.consider(epoch, self)`` when ``selection.due`` says,
    #: and ends with the networks it chose (``--select val|test``). Otherwise there is nothing
    #: to choose: such a method runs as ``--select last``.
    selectable: ClassVar[bool] = False
    #: True when the seed changes nothing it computes (PCA, the floors): it runs once, with the
    #: first seed, and tables show its number without a std.
    seed_independent: ClassVar[bool] = False

    @classmethod
    def references(cls, params: dict) -> str:
        """The BibTeX entries to cite for an entry with ``params`` (e.g. a variant's own
        paper). Default: :attr:`citation`."""
        return cls.citation

    def fit(self, train: ImageSet, *, on_epoch: Callable | None = None) -> Method:
        """Learn from ``train`` (normal images only). ``on_epoch(epoch, epochs, losses)``
        may be called after each epoch for progress. Returns ``self``."""
        raise NotImplementedError

    def score(self, data: ImageSet) -> np.ndarray:
        """Anomaly score per image of ``data``: shape (N,), higher = more anomalous (labels
        are there for reports only; a method must not look at them)."""
        raise NotImplementedError

    # -- optional hooks ------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`benchbox.errors.ParamError` for parameter values that cannot work (a
        missing weights file, a bad range); called while planning, before anything trains.
        Default: the declared types and choices are all that is checked."""

    @classmethod
    def check_image_size(cls, image_size: int) -> None:
        """Raise :class:`benchbox.errors.ParamError` for an image size the method cannot take;
        called while planning, before anything trains. Default: any size."""

    def provenance(self) -> dict:
        """What a result must record to be reproduced beyond the parameters, after ``fit``
        (e.g. the SHA-256 of a weights file the method read). Default: nothing."""
        return {}

    def artifacts(self, test: ImageSet) -> dict[str, np.ndarray]:
        """Small arrays the report draws figures from, saved beside the result: ``originals``,
        ``reconstructions`` and ``recon_index`` (residual maps), ``latent`` and
        ``latent_index`` (t-SNE). Default: none."""
        return {}

    def anomaly_maps(self, data: ImageSet) -> np.ndarray | None:
        """One map per image, (N, S, S) at the input's size, higher = more anomalous, for the
        pixel metrics (:mod:`benchbox.localisation`) where the dataset has masks, the report's
        figures, and on every test set the report's image explorer (:mod:`benchbox.thumbnails`).
        Default: None, the method has no map."""
        return None


class Dataset(Configurable):
    """A dataset: images of the ``train`` split (normal only), ``test`` and optionally ``val``.

    ``data_root`` is where the data lives (not a parameter: moving the data does not change
    results); ``env_var`` names the environment variable that can point to it.
    """

    env_var: ClassVar[str | None] = None
    #: The folder layout the data must have, quoted in the error when none is found.
    layout: ClassVar[str] = ""
    #: Small defaults for quick runs; None means the suite-wide defaults.
    default_image_size: ClassVar[int | None] = None
    default_epochs: ClassVar[int | None] = None
    default_batch_size: ClassVar[int | None] = None
    published: ClassVar[str] = ""

    def __init__(self, data_root=None, cache_dir=None, **kwargs):
        super().__init__(**kwargs)
        self.data_root = data_root
        self.cache_dir = cache_dir

    def given_root(self) -> Path | None:
        """Where the user said the data is: ``data_root``, else ``$env_var``; None if neither."""
        given = self.data_root or (os.environ.get(self.env_var) if self.env_var else None)
        return Path(given).expanduser() if given else None

    def splits(self) -> list[str]:
        """Splits this dataset can load, e.g. ``["train", "test", "val"]``."""
        return ["train", "test"]

    def load(self, split: str, image_size: int) -> ImageSet:
        raise NotImplementedError

    def labelled_validation(self) -> str:
        """Where ``--select val`` finds a labelled validation split (normal and anomalous images,
        none of them a test image), in words; raise :class:`benchbox.errors.DataError` saying
        what is missing where there is none. Called while planning. Default: the ``val`` split."""
        from .errors import DataError

        if "val" not in self.splits():
            raise DataError(
                f"dataset {self.name!r} has no labelled validation split (a val split with normal and "
                f"anomalous images, no test image among them), which --select val chooses on; use "
                f"--select last, or a dataset that has one"
            )
        return "the val split"

    def validation_splits(self, image_size: int) -> tuple[ImageSet, ImageSet]:
        """(training images, labelled validation images) for ``--select val``: where the
        validation split is carved out of the training data, the training images are what is
        left. Default: the ``train`` and ``val`` splits."""
        return self.load("train", image_size), self.load("val", image_size)

    def validation_fingerprint(self) -> str | None:
        """What :meth:`fingerprint` misses of the ``--select val`` splits (their images where they
        are carved from data the fingerprint does not cover); None: nothing."""
        return None

    def display_name(self) -> str:
        """The name the data is published under, for tables, report sections and file names
        (``BrainTumor``, not the layout ``medianomaly``); not part of any key. ``--param
        <dataset>.name=...`` overrides it. Default: the plugin's name; layouts that hold many
        datasets name them by their data root."""
        return self.name

    def location(self) -> tuple[str, bool]:
        """Where the data is looked for (or why nowhere), and whether it was found there."""
        return ("(generated in memory)", True)

    def validate(self) -> None:
        """Raise a clear error now, before any training, if the data cannot serve (optional)."""

    def fingerprint(self) -> str | None:
        """Which images the splits hold (names and classes, not pixels), as a short hash made
        without decoding anything. It is part of every result's key, so a finished result is
        never reused for other data. None: the parameters alone define the data (generated)."""
        return None

    def provenance(self) -> dict:
        """What a result must record to reproduce the splits (e.g. dev-protocol file lists)."""
        return {}

    def file_digests(self, split: str) -> dict[str, str] | None:
        """Image id -> digest of its file's bytes, for the leak audit's identical copies
        (:mod:`benchbox.leaks`). Default: None, the images are not files (identical pixels
        are compared instead)."""
        return None

    @classmethod
    def subgroup(cls, image_id: str) -> str | None:
        """A finer label of a test image than its class, read from its id (Kermany's chest X-rays:
        bacterial or viral pneumonia; the two series of normal file names), for the report's AUROC
        per abnormal and per normal group. None: no finer label (the default)."""
        return None
