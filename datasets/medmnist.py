"""MedMNIST v2 ``.npz`` files (Yang et al. 2023): OCTMNIST, PneumoniaMNIST, or any other
file with a ``normal_label``. Keys ``{train,val,test}_{images,labels}``; sizes 28–224."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchbox.contracts import Dataset, ImageSet
from benchbox.digests import content_digests
from benchbox.errors import DataError, ParamError

CLASS_NAMES = {
    "octmnist": {0: "CNV", 1: "DME", 2: "DRUSEN", 3: "NORMAL"},
    "pneumoniamnist": {0: "NORMAL", 1: "PNEUMONIA"},
}
NORMAL_LABEL = {"octmnist": 3, "pneumoniamnist": 0}


class MedMNIST(Dataset):
    """A MedMNIST v2 .npz file (octmnist, pneumoniamnist, ... any size)."""

    name = "medmnist"
    title = "MedMNIST"
    citation = r"""@article{yang2023medmnist,
  author = {Yang, Jiancheng and Shi, Rui and Wei, Donglai and Liu, Zequan and Zhao, Lin and Ke, Bilian and Pfister, Hanspeter and Ni, Bingbing},
  title = {{MedMNIST} v2 -- A Large-Scale Lightweight Benchmark for {2D} and {3D} Biomedical Image Classification},
  journal = {Scientific Data},
  volume = {10},
  pages = {41},
  year = {2023}
}
"""
    env_var = "BENCHBOX_MEDMNIST_FILE"
    params = {"normal_label": -1}  # -1: from the file name (octmnist 3, pneumoniamnist 0)
    ranges = {"normal_label": ">= -1"}
    published = "MedMNIST v2, Yang et al., Scientific Data 2023 (zenodo.org/records/10519652)"
    layout = "an .npz file with train_images, train_labels, test_images, test_labels[, val_*]"

    def path(self) -> Path | None:
        return self.given_root()

    def location(self):
        path = self.path()
        if path is None:
            return (f"no --data-root FILE.npz given, and ${self.env_var} is not set", False)
        return (str(path), path.is_file())

    def fingerprint(self) -> str:
        path = self.path()  # the file's name and content (digest cached by size and mtime)
        digest = content_digests(path.parent, [path], self.cache_dir)[0]
        return hashlib.sha256(f"{path.name}:{digest}".encode()).hexdigest()[:16]

    def flavour(self) -> str:
        stem = self.path().stem.lower()
        return next((k for k in CLASS_NAMES if stem.startswith(k)), "")

    def _arrays(self) -> dict:
        path = self.path()
        if path is None or not path.is_file():
            raise DataError(
                f"dataset 'medmnist': no file at {path or '(not given)'}. Expected: {self.layout}. "
                f"Published: {self.published}."
            )
        if not hasattr(self, "_cache"):
            try:
                with np.load(path, allow_pickle=False) as data:
                    self._cache = {k: data[k] for k in data.files}
            except (OSError, ValueError) as error:
                raise DataError(f"{path}: not a readable .npz file ({error})") from None
        return self._cache

    def splits(self):
        path = self.path()
        if path is None or not path.is_file():
            return ["train", "test"]
        return [s for s in ("train", "val", "test") if f"{s}_images" in self._arrays()]

    def normal(self) -> int:
        if self.normal_label >= 0:
            return self.normal_label
        flavour = self.flavour()
        if not flavour:
            raise ParamError(
                f"medmnist: cannot tell the normal label of {self.path().name}; set --param medmnist.normal_label=N"
            )
        return NORMAL_LABEL[flavour]

    def validate(self) -> None:
        """Before anything runs: the file reads, and its training split holds the normal label."""
        labels = np.asarray(self._arrays().get("train_labels", np.zeros(0))).reshape(-1)
        if labels.size and not (labels == self.normal()).any():
            raise ParamError(
                f"medmnist: {self.path()} has no training image with the normal label "
                f"{self.normal()} (normal_label); its training labels: {sorted(set(labels.tolist()))}"
            )

    def load(self, split: str, image_size: int) -> ImageSet:
        arrays, path = self._arrays(), self.path()
        for key in (f"{split}_images", f"{split}_labels"):
            if key not in arrays:
                raise DataError(f"{path}: missing key {key!r} (keys: {', '.join(sorted(arrays))})")
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.dtype != np.uint8:
            raise DataError(f"{path}: {split}_images must be uint8, got {images.dtype}")
        if images.ndim == 4 and images.shape[-1] in (1, 3):
            images = images.mean(-1).round().astype(np.uint8) if images.shape[-1] == 3 else images[..., 0]
        if images.ndim != 3 or images.shape[1] != images.shape[2]:
            raise DataError(f"{path}: {split}_images must be N×H×W (or N×H×W×C, C in 1, 3); got {images.shape}")
        labels = np.asarray(labels).reshape(len(labels), -1)
        if labels.shape != (len(images), 1) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{path}: {split}_labels must be {len(images)} integers, got {labels.dtype} {labels.shape}")
        labels = labels[:, 0]
        names = CLASS_NAMES.get(self.flavour(), {})
        if names and not set(np.unique(labels).tolist()) <= set(names):
            outside = sorted(set(np.unique(labels).tolist()) - set(names))
            raise DataError(f"{path}: {split}_labels has labels {outside} outside the {self.flavour()} map {names}")
        normal = self.normal()
        keep = labels == normal if split == "train" else np.ones(len(labels), dtype=bool)
        if split == "train" and not keep.any():
            raise DataError(f"{path}: no training images with the normal label {normal}")
        images, labels = images[keep], labels[keep]
        index = np.nonzero(keep)[0]
        if images.shape[1] != image_size:
            images = np.stack(
                [
                    np.asarray(Image.fromarray(im).resize((image_size, image_size), Image.Resampling.BICUBIC))
                    for im in images
                ]
            )
        classes = [names.get(int(y), str(int(y))) if int(y) != normal else "NORMAL" for y in labels]
        ids = [f"{split}/{i}" for i in index]
        return ImageSet(
            torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1),
            (labels != normal).astype(np.int64),
            classes,
            ids,
        )
