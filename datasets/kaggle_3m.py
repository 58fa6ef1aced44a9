"""The LGG Segmentation Dataset (Buda, Saha & Mazurowski, Computers in Biology and Medicine
2019; TCGA-LGG) in its published ``kaggle_3m`` layout: ``ROOT/<CASE>/<CASE>_<N>.tif`` and
``<CASE>_<N>_mask.tif``, one folder per case (110 in the full release), 256×256 axial slices.

The protocol of the BraTS-based pixel benchmarks (BMAD, MedIAnomaly): a slice whose mask is empty
is normal; train on the normal slices of the training cases, test on every slice of the other
cases, the masks giving the pixel metrics. Cases are split, never slices (neighbouring slices of
one brain are nearly identical): a seeded share of the cases for test (``test_share``,
``split_seed``), or a JSON ``split_file`` = ``{"train": [cases], "test": [cases]}`` naming them
(a published split, or one's own). The cases used are in the data fingerprint and the result.

Images: the original files are three channels (pre-contrast, FLAIR, post-contrast): ``channel``
(default 1, FLAIR) picks one; one-channel files (a FLAIR-only copy as PNG) are read as they are.
Masks are 0/255. ``min_tissue`` (default 0: every slice, as published) leaves out slices whose
share of pixels above 10 (of 255) is below it, in both splits: the near-empty top and bottom of
the head, which many papers drop (0.1 drops 99 of the 831 normal slices of the 36-case sample).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchbox.contracts import Dataset, ImageSet
from benchbox.digests import content_digests
from benchbox.errors import DataError, ParamError

from .folder import locate, read_mask
from .imagefiles import IMAGE_SUFFIXES, load_cached, to_gray_uint8

SLICE = re.compile(r"^(?P<case>.+)_(?P<n>\d+)$")  # <CASE>_<N>, the mask <CASE>_<N>_mask
TISSUE_LEVEL = 10  # of 255: above it, a pixel is tissue (the background of these slices is 0)


class LggMri(Dataset):
    """LGG brain MRI (FLAIR) slices with tumour masks, Kaggle's kaggle_3m layout, split by case."""

    name = "lgg_mri"
    title = "LGG brain MRI"
    citation = r"""@article{buda2019lgg,
  author = {Buda, Mateusz and Saha, Ashirbani and Mazurowski, Maciej A.},
  title = {Association of Genomic Subtypes of Lower-Grade Gliomas with Shape Features Automatically Extracted by a Deep Learning Algorithm},
  journal = {Computers in Biology and Medicine},
  volume = {109},
  pages = {218--225},
  year = {2019}
}
"""
    env_var = "BENCHBOX_LGG_MRI_ROOT"
    params = {"test_share": 0.3, "split_seed": 0, "split_file": "", "channel": 1, "min_tissue": 0.0, "skip_bad": False}
    ranges = {"test_share": "(0, 1)", "split_seed": ">= 0", "channel": ">= 0", "min_tissue": "[0, 1)"}
    invalid_examples = {"split_file": "/no/such/split.json"}
    layout = "ROOT/<CASE>/<CASE>_<N>.tif with <CASE>_<N>_mask.tif (or .png), one folder per case"
    published = "Buda et al., Comput. Biol. Med. 2019 (Kaggle 'lgg-mri-segmentation', kaggle_3m)"
    default_image_size = 64

    def root(self) -> Path | None:
        root = self.given_root()
        # The release unpacks to lgg-mri-segmentation/kaggle_3m/: either folder will do.
        if root is not None and (root / "kaggle_3m").is_dir():
            return root / "kaggle_3m"
        return root

    def location(self):
        return locate(self.root(), self.env_var, lambda root: bool(self._case_folders(root)), "no case folders")

    def validate(self) -> None:
        if self.split_file and not Path(self.split_file).is_file():
            raise ParamError(f"lgg_mri: split_file {self.split_file} does not exist")
        self.cases()

    # -- the slices --------------------------------------------------------------------
    @staticmethod
    def _case_folders(root: Path) -> list[Path]:
        if not root.is_dir():
            return []
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def slices(self) -> dict[str, list[tuple[Path, Path]]]:
        """Case -> its (image, mask) files in slice order; a slice without its mask is an error."""
        if "_slices" not in self.__dict__:
            root = self.root()
            if root is None or not root.is_dir():
                raise DataError(f"dataset 'lgg_mri': data root {root or '(not given)'} does not exist. "
                                f"Expected layout: {self.layout}. Published: {self.published}.")  # fmt: skip
            found = {}
            for folder in self._case_folders(root):
                files = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
                pairs = []
                for stem, image in files.items():
                    if stem.endswith("_mask"):
                        continue
                    match = SLICE.match(stem)
                    if match is None or match["case"] != folder.name:
                        raise DataError(f"{image}: not named {folder.name}_<N> as the slices of its case folder")
                    mask = files.get(f"{stem}_mask")
                    if mask is None:
                        raise DataError(f"{image}: its mask {folder / (stem + '_mask' + image.suffix)} does not exist")
                    pairs.append((int(match["n"]), image, mask))
                if pairs:
                    found[folder.name] = [(image, mask) for _, image, mask in sorted(pairs)]
            if not found:
                raise DataError(f"dataset 'lgg_mri': no case folders with slices in {root}. Expected layout: "
                                f"{self.layout}. Published: {self.published}.")  # fmt: skip
            self._slices = found
        return self._slices

    def cases(self) -> dict[str, list[str]]:
        """{"train": [cases], "test": [cases]}: from ``split_file``, else a seeded share."""
        if "_cases" not in self.__dict__:
            known = sorted(self.slices())
            if self.split_file:
                self._cases = self._read_split_file(known)
            else:
                if len(known) < 2:
                    raise DataError(f"lgg_mri: {len(known)} case in {self.root()}; a split by case needs two")
                shuffled = known[:]
                random.Random(self.split_seed).shuffle(shuffled)
                n_test = min(len(known) - 1, max(1, round(self.test_share * len(known))))
                self._cases = {"train": sorted(shuffled[n_test:]), "test": sorted(shuffled[:n_test])}
        return self._cases

    def _read_split_file(self, known: list[str]) -> dict[str, list[str]]:
        file = Path(self.split_file)
        try:
            given = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DataError(f"{file}: not readable JSON ({error})") from None
        if not isinstance(given, dict) or not all(
            isinstance(given.get(s), list) and given[s] and all(isinstance(c, str) for c in given[s])
            for s in ("train", "test")
        ):
            raise DataError(f'{file}: expected {{"train": [case, ...], "test": [case, ...]}}, both non-empty')
        both = sorted(set(given["train"]) & set(given["test"]))
        if both:
            raise DataError(f"{file}: case {', '.join(both)} is in both train and test (split by case, never by slice)")
        unknown = sorted(set(given["train"] + given["test"]) - set(known))
        if unknown:
            raise DataError(f"{file}: case {', '.join(unknown[:5])} has no folder with slices in {self.root()}")
        return {split: sorted(set(given[split])) for split in ("train", "test")}

    def _facts(self) -> dict[Path, tuple[bool, float]]:
        """Per slice image: (its mask has tumour, its tissue share), read once."""
        if "_slice_facts" not in self.__dict__:
            facts = {}
            for pairs in self.slices().values():
                for image, mask in pairs:
                    with Image.open(mask) as m:
                        tumour = bool(np.asarray(to_gray_uint8(m)).any())
                    tissue = 1.0
                    if self.min_tissue > 0:
                        with Image.open(image) as picture:
                            if len(picture.getbands()) > 1:
                                picture = picture.getchannel(self.channel)
                            tissue = float((np.asarray(to_gray_uint8(picture)) > TISSUE_LEVEL).mean())
                    facts[image] = (tumour, tissue)
            self._slice_facts = facts
        return self._slice_facts

    def items(self, split: str) -> list[tuple[Path, Path, str]]:
        """(image, mask, class) of a split: train = the normal slices of the training cases;
        test = every slice of the test cases; slices under ``min_tissue`` left out."""
        if split not in ("train", "test"):
            raise ParamError(f"lgg_mri: no split {split!r}; splits: train, test")
        facts, out = self._facts(), []
        for case in self.cases()[split]:
            for image, mask in self.slices()[case]:
                tumour, tissue = facts[image]
                if tissue < self.min_tissue or (split == "train" and tumour):
                    continue
                out.append((image, mask, "TUMOUR" if tumour else "NORMAL"))
        if not out:
            raise DataError(f"lgg_mri: the {split} split has no slices (cases {', '.join(self.cases()[split])})")
        return out

    def load(self, split: str, image_size: int) -> ImageSet:
        root, items = self.root(), self.items(split)
        paths = [image for image, _, _ in items]
        images, kept = load_cached(root, paths, image_size, self.cache_dir, self.name, self.skip_bad, self.channel)
        items = [items[i] for i in kept]
        classes = [c for _, _, c in items]
        labels = np.array([c == "TUMOUR" for c in classes], dtype=np.int64)
        ids = [image.relative_to(root).as_posix() for image, _, _ in items]
        masks = np.stack([read_mask(mask, image, image_size) for image, mask, _ in items])[:, None]
        known = np.ones(len(items), dtype=bool)
        return ImageSet(torch.from_numpy(images).unsqueeze(1), labels, classes, ids, torch.from_numpy(masks), known)

    @classmethod
    def subgroup(cls, image_id: str) -> str | None:
        return None  # a case is no group of interest across the report's methods

    def file_digests(self, split: str) -> dict[str, str]:
        root, items = self.root(), self.items(split)
        digests = content_digests(root, [image for image, _, _ in items], self.cache_dir)
        return {image.relative_to(root).as_posix(): d for (image, _, _), d in zip(items, digests)}

    def fingerprint(self) -> str:
        """The cases of each split, and every image and mask used, by content."""
        root, listed = self.root(), {"cases": self.cases()}
        for split in ("train", "test"):
            items = self.items(split)
            files = [image for image, _, _ in items] + [mask for _, mask, _ in items]
            digests = content_digests(root, files, self.cache_dir)
            listed[split] = sorted((f.relative_to(root).as_posix(), d) for f, d in zip(files, digests))
        return hashlib.sha256(json.dumps(listed, sort_keys=True).encode()).hexdigest()[:16]

    def provenance(self) -> dict:
        cases = self.cases()
        how = (
            f"split_file {self.split_file}"
            if self.split_file
            else f"seeded share {self.test_share}, seed {self.split_seed}"
        )
        return {
            "protocol": f"by case ({how})",
            "train_cases": cases["train"],
            "test_cases": cases["test"],
            "slices_left_out_under_min_tissue": sum(t < self.min_tissue for _, t in self._facts().values()),
        }
