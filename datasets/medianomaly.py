"""MedIAnomaly's layout (Cai et al., Medical Image Analysis 2025): ``ROOT/images/*`` and
``ROOT/data.json`` = ``{"train": {"0": [names]}, "test": {"0": [names], "1": [names]}}`` (0 normal,
1 anomalous; an ``"unlabeled"`` part, where present, is not used: the benchmark's one-class
protocol trains on ``train/0``). Any of its datasets (RSNA, VinCXR, BrainTumor, LAG, ISIC2018,
...) runs by pointing ``--data-root`` at its folder.

Pixel masks, where a dataset has them, are read from ``ROOT/annotations/`` or ``ROOT/masks/``
with the image's file name (any image suffix); anomalous images without one are image level
only. Files that ``data.json`` lists but the folder lacks are an error with their count and first
names; ``--param medianomaly.skip_missing=true`` leaves them out (recorded with the result).

Tables and reports call the dataset by its published name (:meth:`MedIAnomaly.display_name`),
never ``medianomaly``: the layout holds many datasets.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from benchbox.contracts import Dataset, ImageSet
from benchbox.digests import content_digests
from benchbox.errors import DataError, ParamError

from .folder import _child, _same_stem, locate, read_mask
from .imagefiles import load_cached

MASK_FOLDERS = ("annotations", "masks")
#: The datasets MedIAnomaly publishes in this layout, spelt as it names them: a data root named
#: like one (``brain_tumor``, ``braintumor``) gets this spelling in tables and file names.
PUBLISHED_NAMES = ("RSNA", "VinCXR", "BrainTumor", "LAG", "ISIC2018", "Camelyon16", "BraTS2021")
CLASSES = {"0": "NORMAL", "1": "ANOMALOUS"}


class MedIAnomaly(Dataset):
    """A dataset in MedIAnomaly's layout: images/ + data.json (train/0; test/0, test/1)."""

    name = "medianomaly"
    citation = r"""@article{cai2025medianomaly,
  author = {Cai, Yu and Zhang, Weiwen and Chen, Hao and Cheng, Kwang-Ting},
  title = {{MedIAnomaly}: A Comparative Study of Anomaly Detection in Medical Images},
  journal = {Medical Image Analysis},
  year = {2025}
}
"""
    env_var = "BENCHBOX_MEDIANOMALY_ROOT"
    params = {"skip_missing": False, "skip_bad": False}
    layout = 'ROOT/images/* and ROOT/data.json = {"train": {"0": [...]}, "test": {"0": [...], "1": [...]}}'
    published = "MedIAnomaly, Cai et al., Medical Image Analysis 2025 (its data.json per dataset)"

    def root(self) -> Path | None:
        return self.given_root()

    def location(self):
        return locate(self.root(), self.env_var, lambda root: (root / "data.json").is_file(), "no data.json")

    def display_name(self) -> str:
        """``data.json``'s ``"name"`` where it has one, else the data root's folder name, in
        MedIAnomaly's spelling where it is one of its datasets."""
        root = self.root()
        if root is None:
            return self.name
        named = self._index().get("name") if (root / "data.json").is_file() else None
        if isinstance(named, str) and named.strip():
            return named.strip()
        folder = root.resolve().name
        plain = folder.lower().replace("_", "").replace("-", "")
        return next((n for n in PUBLISHED_NAMES if n.lower() == plain), folder)

    def _fail(self, what: str) -> DataError:
        return DataError(f"dataset 'medianomaly': {what}. Expected layout: {self.layout}. Published: {self.published}.")

    def _index(self) -> dict:
        if "_json" not in self.__dict__:
            root = self.root()
            if root is None or not root.is_dir():
                raise self._fail(f"data root {root or '(not given)'} does not exist")
            file = root / "data.json"
            try:
                index = json.loads(file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise self._fail(f"no data.json in {root}") from None
            except (OSError, ValueError) as error:
                raise DataError(f"{file}: not readable JSON ({error})") from None
            for split, parts in (("train", ("0",)), ("test", ("0", "1"))):
                for part in parts:
                    names = index.get(split, {}).get(part) if isinstance(index.get(split), dict) else None
                    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                        raise DataError(f'{file}: needs "{split}": {{"{part}": [file names]}}')
            self._json = index
        return self._json

    def validate(self) -> None:
        for split in ("train", "test"):
            self.items(split)

    def items(self, split: str) -> list[tuple[Path, str]]:
        """(path, class) of a split's images that exist (see ``skip_missing``)."""
        if split not in ("train", "test"):
            raise ParamError(f"medianomaly: no split {split!r}; splits: train, test")
        listed = self.__dict__.setdefault("_items", {})
        if split not in listed:
            images = self.root() / "images"
            parts = ("0",) if split == "train" else ("0", "1")
            wanted = [(images / name, CLASSES[part]) for part in parts for name in self._index()[split][part]]
            missing = [path.name for path, _ in wanted if not path.is_file()]
            if missing:
                message = (
                    f"{len(missing)} of the {len(wanted)} {split} images data.json lists are not in {images} "
                    f"(first: {', '.join(missing[:5])})"
                )
                if not self.skip_missing:
                    raise DataError(f"{message}; leave them out with --param medianomaly.skip_missing=true")
                warnings.warn(f"{message}: left out (skip_missing)", stacklevel=2)
            absent = set(missing)
            listed[split] = [it for it in wanted if it[0].name not in absent]
        return listed[split]

    def missing_files(self) -> dict[str, int]:
        index = self._index()
        images = self.root() / "images"
        return {
            split: sum(not (images / n).is_file() for part in index[split].values() for n in part)
            for split in ("train", "test")
        }

    def mask_file(self, path: Path) -> Path | None:
        for name in MASK_FOLDERS:
            folder = _child(self.root(), name)
            if folder is not None:
                return _same_stem(folder, path)
        return None

    def load(self, split: str, image_size: int) -> ImageSet:
        items = self.items(split)
        root = self.root()
        images, kept = load_cached(root, [p for p, _ in items], image_size, self.cache_dir, self.name, self.skip_bad)
        items = [items[i] for i in kept]
        classes = [c for _, c in items]
        labels = np.array([c == "ANOMALOUS" for c in classes], dtype=np.int64)
        ids = [p.relative_to(root).as_posix() for p, _ in items]
        masks = known = None
        files = [self.mask_file(p) if c == "ANOMALOUS" else None for p, c in items]
        if any(f is not None and f.is_file() for f in files):
            known = np.array([c == "NORMAL" or (f is not None and f.is_file()) for (_, c), f in zip(items, files)])
            stack = np.zeros((len(items), 1, image_size, image_size), dtype=np.uint8)
            for i, ((path, _), file) in enumerate(zip(items, files)):
                if file is not None and file.is_file():
                    stack[i, 0] = read_mask(file, path, image_size)
            masks = torch.from_numpy(stack)
        return ImageSet(torch.from_numpy(images).unsqueeze(1), labels, classes, ids, masks, known)

    def file_digests(self, split: str) -> dict[str, str]:
        root, items = self.root(), self.items(split)
        digests = content_digests(root, [p for p, _ in items], self.cache_dir)
        return {p.relative_to(root).as_posix(): d for (p, _), d in zip(items, digests)}

    def fingerprint(self) -> str:
        root = self.root()
        listed = {}
        for split in ("train", "test"):
            items = self.items(split)
            digests = content_digests(root, [p for p, _ in items], self.cache_dir)
            listed[split] = sorted((p.relative_to(root).as_posix(), c, d) for (p, c), d in zip(items, digests))
        masks = [f for p, c in self.items("test") if c == "ANOMALOUS" and (f := self.mask_file(p)) and f.is_file()]
        if masks:
            digests = content_digests(root, masks, self.cache_dir)
            listed["masks"] = sorted((f.relative_to(root).as_posix(), d) for f, d in zip(masks, digests))
        return hashlib.sha256(json.dumps(listed, sort_keys=True).encode()).hexdigest()[:16]

    def provenance(self) -> dict:
        missing = self.missing_files()
        return {"listed_but_missing": missing} if any(missing.values()) else {}
