"""Image-folder datasets: ``ROOT/<split>/<class>/*.jpeg`` — any folder, and the Kermany
OCT2017 and chest X-ray layouts of the SALAD paper (Section IV-A).

Train = the normal class of ``train``; test = everything in ``test``, anomalous unless
normal, with class names kept (Table VI). The *dev protocol* (``protocol=dev``, and the
fallback of ``protocol=auto`` without a ``test`` folder) carves a test set out of ``train``
alone, so that choices can be made without touching ``test``: a fixed share of the patients
of the normal images (``dev_holdout``, chosen with ``split_seed``, the same for every run
seed) is held out, never trained on, and joined with all anomalous ``train`` images.
Patients are read from file names with ``group_pattern`` (a regular expression whose first
group, or whole match, is the patient id; empty: every image is its own patient), because an
image-level split leaks: one patient's images are near-duplicates. A patient with an
anomalous image is never trained on. The file lists are recorded with every result.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from benchbox.contracts import Dataset, ImageSet
from benchbox.digests import content_digests
from benchbox.errors import DataError, ParamError

from .imagefiles import IMAGE_SUFFIXES, list_images, load_cached, to_gray_uint8

#: Where a class folder keeps its images and its masks in BMAD's (``img``, ``label``) and
#: COVID-QU-Ex's (``images``, ``infection masks``) layouts.
IMAGE_SUBFOLDERS = ("img", "images")
MASK_SUBFOLDERS = ("label", "infection masks", "masks")


def _same_stem(folder: Path, image: Path) -> Path:
    """The file in ``folder`` named like ``image`` (any image suffix); the same name if none."""
    if (folder / image.name).is_file():
        return folder / image.name
    return next((folder / f"{image.stem}{s}" for s in IMAGE_SUFFIXES if (folder / f"{image.stem}{s}").is_file()),
                folder / image.name)  # fmt: skip


def read_mask(file: Path, image: Path, image_size: int) -> np.ndarray:
    """A binary mask file -> uint8 0/1 at ``image_size`` (nearest neighbour, so it stays binary).
    Raises DataError naming the file when it is missing, not binary (two values, one of them 0),
    or of another size than its image."""
    if not file.is_file():
        raise DataError(f"{image}: its mask {file} does not exist")
    try:
        with Image.open(file) as mask, Image.open(image) as picture:
            if mask.size != picture.size:
                raise DataError(f"{file}: mask of {mask.size[0]}×{mask.size[1]} pixels, but its image {image} is "
                                f"{picture.size[0]}×{picture.size[1]}")  # fmt: skip
            values = np.asarray(to_gray_uint8(mask))
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"{file}: not a decodable mask ({type(error).__name__}: {error})") from None
    levels = np.unique(values)
    if len(levels) > 2 or levels[0] != 0 and len(levels) == 2:
        shown = ", ".join(map(str, levels[:6])) + (" ..." if len(levels) > 6 else "")
        raise DataError(f"{file}: not a binary mask (values {shown}; expected 0 and one other value)")
    binary = Image.fromarray(((values > 0) * 255).astype(np.uint8), "L")
    return (np.asarray(binary.resize((image_size, image_size), Image.Resampling.NEAREST)) > 0).astype(np.uint8)


def locate(root: Path | None, env_var: str | None, has_data, lacking: str) -> tuple[str, bool]:
    """A dataset's ``location()``: where its data is looked for, and whether ``has_data(root)``."""
    if root is None:
        return (f"no --data-root given, and ${env_var} is not set", False)
    if not root.exists():
        return (f"{root} does not exist", False)
    found = has_data(root)
    return (str(root) if found else f"{root} has {lacking}", found)


def _child(folder: Path, name: str) -> Path | None:
    """The sub-folder of ``folder`` called ``name``, ignoring case."""
    if not folder.is_dir():
        return None
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and entry.name.lower() == name.lower():
            return entry
    return None


class FolderDataset(Dataset):
    """Any ``ROOT/<split>/<class>/`` tree of images; ``normal_class`` names the normal folder."""

    name = "folder"
    env_var = "BENCHBOX_FOLDER_ROOT"
    params = {
        "normal_class": "NORMAL",
        "protocol": "auto",
        "dev_holdout": 0.2,
        "split_seed": 0,
        "group_pattern": "",
        "skip_bad": False,
    }
    choices = {"protocol": ("auto", "official", "dev")}
    ranges = {"dev_holdout": "(0, 1)", "split_seed": ">= 0"}
    invalid_examples = {"normal_class": "NO_SUCH_CLASS", "group_pattern": "(unclosed"}
    layout = "ROOT/{train,test[,val]}/<class>/*.{jpeg,jpg,png,...}, the normal class a folder named like --param folder.normal_class"
    published = "your own data"
    #: Subfolders of the given root tried in turn (OCT2017 zips unpack into one).
    root_aliases: tuple[str, ...] = ()

    def root(self) -> Path | None:
        base = self.given_root()
        if base is None:
            return None
        for candidate in [base, *(base / a for a in self.root_aliases)]:
            if _child(candidate, "train") is not None:
                return candidate
        return base

    def location(self):
        return locate(self.root(), self.env_var, lambda root: _child(root, "train") is not None, "no train/ folder")

    def display_name(self) -> str:
        # The generic layout holds any dataset: it is named by its folder (BMAD's, yours).
        if type(self).name != FolderDataset.name or self.root() is None:
            return self.name
        return self.root().resolve().name

    def missing(self, what: str) -> DataError:
        return DataError(f"dataset {self.name!r}: {what}. Expected layout: {self.layout}. Published: {self.published}.")

    def _root(self) -> Path:
        root = self.root()
        if root is None or not root.is_dir():
            raise self.missing(f"data root {root or '(not given)'} does not exist")
        return root

    def splits(self):
        root = self.root()
        present = ["train", "test"]
        if root is not None and _child(root, "val") is not None and self.val_is_separate():
            present.append("val")
        return present

    def val_is_separate(self) -> bool:
        return True

    def is_normal(self, class_name: str) -> bool:
        return class_name.lower() == self.normal_class.lower()

    #: Class folder names a layout may hold (upper case); empty: any (the generic plugin).
    known_classes: tuple[str, ...] = ()

    def class_folders(self, split_dir: Path) -> list[Path]:
        folders = [p for p in sorted(split_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")]
        if not folders:
            raise self.missing(f"{split_dir} has no class folders")
        foreign = [p.name for p in folders if self.known_classes and p.name.upper() not in self.known_classes]
        if foreign:
            raise DataError(
                f"dataset {self.name!r}: {split_dir} holds class folder(s) {', '.join(foreign)}, "
                f"which are not {self.name}'s classes ({', '.join(self.known_classes)}). Is "
                f"--data-root another dataset? For any other tree use --dataset folder."
            )
        return folders

    def validate(self) -> None:
        """Before anything runs: the patient pattern compiles, the training split lists, and
        holds the normal class."""
        try:
            re.compile(self.group_pattern)
        except re.error as error:
            raise ParamError(
                f"{self.name}: group_pattern {self.group_pattern!r} is not a regular expression ({error})"
            ) from None
        classes = sorted({c for _, c in self.files("train")})
        if not any(self.is_normal(c) for c in classes) and not self.train_extra():
            raise self.missing(
                f"no normal training images: no class folder named {self.normal_class!r} "
                f"(normal_class) in {_child(self._root(), 'train')}; found: {', '.join(classes)}"
            )

    def files(self, split: str) -> list[tuple[Path, str]]:
        """(path, class name) of every image of a split on disk (listed once per instance)."""
        listed = self.__dict__.setdefault("_listed", {})
        if split not in listed:
            listed[split] = self._list_split(split)
        return listed[split]

    def split_dir(self, split: str) -> Path | None:
        """The folder of a split (``train/``, ``test/``, ``val/``, any case)."""
        return _child(self._root(), split)

    def _list_split(self, split: str) -> list[tuple[Path, str]]:
        split_dir = self.split_dir(split)
        if split_dir is None:
            raise self.missing(f"no {split}/ folder in {self._root()}")
        items = []
        for folder in self.class_folders(split_dir):
            images = list_images(folder)
            if not images:  # BMAD's <class>/img/, COVID-QU-Ex's <class>/images/
                inner = next((f for f in map(lambda n: _child(folder, n), IMAGE_SUBFOLDERS) if f), None)
                images = list_images(inner) if inner is not None else []
            if not images:
                raise self.missing(f"class folder {folder} holds no images")
            items += [(p, folder.name.upper()) for p in images]
        return items

    # -- ground-truth masks ----------------------------------------------------------------
    def mask_source(self, path: Path, class_name: str) -> tuple[bool, Path | None]:
        """(known, mask file) of one image: a normal image's mask is known and empty (None);
        an anomalous image's is the file its layout names (MVTec AD:
        ``ROOT/ground_truth/<class>/<name>_mask.png``; BMAD and COVID-QU-Ex: a mask folder
        beside the image folder, same file name), else unknown (image level only)."""
        if self.is_normal(class_name):
            return True, None
        for name in MASK_SUBFOLDERS:
            if path.parent.name.lower() in IMAGE_SUBFOLDERS and (beside := _child(path.parent.parent, name)):
                return True, _same_stem(beside, path)
        truth = self.__dict__.setdefault("_ground_truth", [_child(self._root(), "ground_truth")])[0]
        if truth is not None and (folder := _child(truth, path.parent.name)) is not None:
            return True, folder / f"{path.stem}_mask.png"
        return False, None

    def _masks(self, items: list[tuple[Path, str]], image_size: int):
        """(masks N×1×S×S uint8 0/1, known flags), or (None, None) where no anomalous image of
        ``items`` has a mask in its layout."""
        sources = [self.mask_source(p, c) for p, c in items]
        if not any(file is not None for _, file in sources):
            return None, None
        masks = np.zeros((len(items), 1, image_size, image_size), dtype=np.uint8)
        for i, ((image, _), (_, file)) in enumerate(zip(items, sources)):
            if file is not None:
                masks[i, 0] = read_mask(file, image, image_size)
        return torch.from_numpy(masks), np.array([known for known, _ in sources], dtype=bool)

    def train_extra(self) -> list[tuple[Path, str]]:
        """Normal images added to training beyond train/ (chest X-ray: val/NORMAL)."""
        return []

    def patient(self, path: Path) -> str | None:
        """The patient id in a file name (``group_pattern``), or None: the image alone."""
        if not self.group_pattern:
            return None
        found = re.search(self.group_pattern, path.name)  # compiled in validate() already
        if found is None:
            return None
        return found.group(1) if found.re.groups else found.group(0)

    def dev_split(self) -> tuple[list, list]:
        """(train items, test items) of the dev protocol, from train/ alone, split by patient."""
        items = self.files("train")
        normal = [it for it in items if self.is_normal(it[1])] + self.train_extra()
        anomalous = [it for it in items if not self.is_normal(it[1])]
        # One group per patient; an image without a patient id is a group of its own.
        groups = [self.patient(path) or i for i, (path, _) in enumerate(normal)]
        sick = {self.patient(path) for path, _ in anomalous} - {None}
        candidates = sorted({g for g in groups if g not in sick}, key=str)
        if not candidates:
            raise self.missing("the dev protocol needs normal training images of patients without anomalous images")
        order = np.random.default_rng(self.split_seed).permutation(len(candidates))
        n_held = max(1, int(round(len(candidates) * self.dev_holdout)))
        kept_groups = {candidates[i] for i in order[n_held:].tolist()}
        train = [it for it, g in zip(normal, groups) if g in kept_groups]
        held = [it for it, g in zip(normal, groups) if g not in kept_groups]
        return train, held + anomalous

    def _separate_val_classes(self) -> set[str]:
        return {c for _, c in self.files("val")} if "val" in self.splits() else set()

    def _val_is_labelled(self) -> bool:
        """A separate val/ with normal and anomalous images."""
        classes = self._separate_val_classes()
        return any(self.is_normal(c) for c in classes) and any(not self.is_normal(c) for c in classes)

    def labelled_validation(self) -> str:
        """``val/`` where it is separate and holds both kinds of image; else, where ``train/``
        holds anomalous images, the dev protocol's held-out normal patients against as many
        training anomalies (the model then trains on the remaining normals)."""
        classes = self._separate_val_classes()
        if self._val_is_labelled():
            return f"val/ ({', '.join(sorted(classes))})"
        if any(not self.is_normal(c) for _, c in self.files("train")):
            return (
                f"held-out training patients (dev_holdout={self.dev_holdout}, split_seed={self.split_seed}) "
                "against as many training anomalies; trains on the remaining normals"
            )
        raise self.missing(
            "--select val needs a labelled validation split: a val/ folder with normal and anomalous "
            f"images (found: {', '.join(sorted(classes)) or 'none'}), or anomalous images in train/ to "
            "hold out with some training normals"
        )

    def validation_items(self) -> tuple[list, list]:
        """(train items, validation items) of ``--select val``: see :meth:`labelled_validation`.
        Validation images of a patient that has a test image (by ``group_pattern``) are left
        out, so the choice never sees a test patient."""
        if self._val_is_labelled():
            train, val = self.items("train"), self.files("val")
        else:
            self.labelled_validation()  # raises where there is no source
            train, held = self.dev_split()
            normal = [it for it in held if self.is_normal(it[1])]
            anomalous = [it for it in held if not self.is_normal(it[1])]
            # As many anomalies as held-out normals (a balanced split, and a short evaluation).
            chosen = np.random.default_rng(self.split_seed).permutation(len(anomalous))[: len(normal)]
            val = normal + [anomalous[i] for i in sorted(chosen.tolist())]
        test_patients = {self.patient(p) for p, _ in self.items("test")} - {None}
        return train, [it for it in val if self.patient(it[0]) not in test_patients]

    def validation_splits(self, image_size: int) -> tuple[ImageSet, ImageSet]:
        train, val = self.validation_items()
        return self._load_items(train, image_size), self._load_items(val, image_size)

    def validation_fingerprint(self) -> str | None:
        """The validation images' digests where they come from train/ (anomalous training images
        are not in :meth:`fingerprint`); None where val/ is used (it is)."""
        if self._val_is_labelled():
            return None
        _, val = self.validation_items()
        return hashlib.sha256(json.dumps(self._listing(val)).encode()).hexdigest()[:16]

    def split_protocol(self) -> str:
        has_test = self.split_dir("test") is not None
        if self._params["protocol"] == "official" and not has_test:
            raise self.missing(f"protocol=official needs a test/ folder in {self._root()}")
        if self._params["protocol"] == "auto":
            return "official" if has_test else "dev"
        return self._params["protocol"]

    def items(self, split: str) -> list[tuple[Path, str]]:
        if split == "val":
            return self.files("val")
        if self.split_protocol() == "official":
            items = self.files(split)
            if split == "train":
                items = [it for it in items if self.is_normal(it[1])] + self.train_extra()
        else:  # the dev split's training images include train_extra already
            train, test = self.dev_split()
            items = train if split == "train" else test
        if split == "train":
            if not items:
                raise self.missing(f"no normal training images (normal class {self.normal_class!r})")
        return items

    def load(self, split: str, image_size: int) -> ImageSet:
        if split not in ("train", "test", "val"):
            raise ParamError(f"{self.name}: no split {split!r}; splits: train, test, val")
        return self._load_items(self.items(split), image_size)

    def _load_items(self, items: list[tuple[Path, str]], image_size: int) -> ImageSet:
        root = self._root()
        images, kept = load_cached(root, [p for p, _ in items], image_size, self.cache_dir, self.name, self.skip_bad)
        items = [items[i] for i in kept]
        classes = [c for _, c in items]
        labels = np.array([0 if self.is_normal(c) else 1 for c in classes], dtype=np.int64)
        ids = [p.relative_to(root).as_posix() for p, _ in items]
        masks, known = self._masks(items, image_size) if labels.any() else (None, None)
        return ImageSet(torch.from_numpy(images).unsqueeze(1), labels, classes, ids, masks, known)

    def fingerprint(self) -> str:
        """Every split's files: relative path, class and content digest (read once, then cached
        by path, size and mtime: :mod:`benchbox.digests`)."""
        listed = {split: self._listing(self.items(split)) for split in self.splits()}
        masks = [f for split in self.splits() for p, c in self.items(split) if (f := self.mask_source(p, c)[1])]
        if masks:  # only where a layout has masks, so that earlier keys stay as they were
            listed["masks"] = self._listing([(f, "mask") for f in masks if f.is_file()])
        return hashlib.sha256(json.dumps(listed, sort_keys=True).encode()).hexdigest()[:16]

    def _listing(self, items: list[tuple[Path, str]]) -> list[tuple[str, str, str]]:
        """(relative path, class, content digest) of each item, sorted."""
        root = self._root()
        digests = content_digests(root, [p for p, _ in items], self.cache_dir)
        return sorted((p.relative_to(root).as_posix(), c, d) for (p, c), d in zip(items, digests))

    def file_digests(self, split: str) -> dict[str, str]:
        return {path: digest for path, _, digest in self._listing(self.items(split))}

    def provenance(self) -> dict:
        record = {"protocol": self.split_protocol()}
        if record["protocol"] == "dev":
            root = self._root()
            train, _ = self.dev_split()
            record.update(
                dev_holdout=self.dev_holdout,
                split_seed=self.split_seed,
                group_pattern=self.group_pattern,
                train_files=[p.relative_to(root).as_posix() for p, _ in train],
            )
        return record


KERMANY_CITATION = r"""@article{kermany2018,
  author = {Kermany, Daniel S. and Goldbaum, Michael and Cai, Wenjia and Valentim, Carolina C. S. and Liang, Huiying and Baxter, Sally L. and McKeown, Alex and Yang, Ge and Wu, Xiaokang and Yan, Fangbing and others},
  title = {Identifying Medical Diagnoses and Treatable Diseases by Image-Based Deep Learning},
  journal = {Cell},
  volume = {172},
  number = {5},
  pages = {1122--1131},
  year = {2018}
}
"""


class OCT(FolderDataset):
    """Kermany OCT2017 retinal B-scans: NORMAL vs CNV, DME, DRUSEN."""

    name = "oct"
    title = "OCT2017"
    citation = KERMANY_CITATION
    env_var = "BENCHBOX_OCT_ROOT"
    # Kermany names are CLASS-PATIENT-N.jpeg (some copies prefix "all-").
    params = {"normal_class": "NORMAL", "group_pattern": r"[A-Za-z]+-(\d+)-\d+"}
    root_aliases = ("OCT2017", "OCT2017 ")
    known_classes = ("NORMAL", "CNV", "DME", "DRUSEN")
    layout = "ROOT/{train,test[,val]}/{NORMAL,CNV,DME,DRUSEN}/*.jpeg (also ROOT/OCT2017/..., any case)"
    published = "Kermany et al. 2018, Mendeley Data doi:10.17632/rscbjbr9sj"


class ChestXray(FolderDataset):
    """Kermany pediatric chest X-rays: NORMAL vs PNEUMONIA."""

    name = "chest_xray"
    title = "Chest X-ray"
    citation = KERMANY_CITATION
    env_var = "BENCHBOX_CHEST_XRAY_ROOT"
    # Normal images are IM-PATIENT-STUDY[-N].jpeg (also NORMAL2-IM-…), pneumonia personN_….
    params = {"include_val_normals": True, "group_pattern": r"IM-\d+|person\d+"}
    root_aliases = ("chest_xray",)
    known_classes = ("NORMAL", "PNEUMONIA")
    layout = "ROOT/{train,test[,val]}/{NORMAL,PNEUMONIA}/*.jpeg"
    published = "Kermany et al. 2018, Mendeley Data doi:10.17632/rscbjbr9sj"

    @classmethod
    def subgroup(cls, image_id: str) -> str | None:
        """Pneumonia: ``bacteria`` or ``virus``, the cause Kermany's file names carry
        (``person1_bacteria_1.jpeg``, ``person1_virus_6.jpeg``). Normal: ``IM`` or ``NORMAL2``,
        the two series of normal file names (``IM-0001-0001.jpeg``, ``NORMAL2-IM-0007-0001.jpeg``);
        the official test split holds the lowest patient numbers of each series."""
        name = Path(image_id).name
        match = re.search(r"_(bacteria|virus)_", name) or re.match(r"(NORMAL2|IM)-", name)
        return match.group(1) if match else None

    def val_is_separate(self) -> bool:
        return not self.include_val_normals  # its normals are training images then

    def train_extra(self):
        if not self.include_val_normals:
            return []
        val = _child(self._root(), "val")
        if val is None:
            return []
        return [it for it in self.files("val") if self.is_normal(it[1])]


class CovidQuEx(FolderDataset):
    """COVID-QU-Ex chest X-rays (Tahir et al. 2021), its Infection Segmentation Data: trains on
    ``Train/Normal``, tests on one split's Normal against COVID-19 (pixel masks of the
    infection) and, with ``non_covid``, Non-COVID pneumonia (image level only: the dataset's
    masks for it are blank by design, so they are never read)."""

    name = "covid_qu_ex"
    title = "COVID-QU-Ex"
    citation = r"""@article{tahir2021covidquex,
  author = {Tahir, Anas M. and Chowdhury, Muhammad E. H. and Khandakar, Amith and Rahman, Tawsifur and Qiblawey, Yazan and Khurshid, Uzair and Kiranyaz, Serkan and Ibtehaz, Nabil and Rahman, M. Sohel and Al-Maadeed, Somaya and Mahmud, Sakib and Ezeddin, Maymouna and Hameed, Khaled and Hamid, Tahir},
  title = {{COVID-19} Infection Localization and Severity Grading from Chest {X}-ray Images},
  journal = {Computers in Biology and Medicine},
  volume = {139},
  pages = {105002},
  year = {2021}
}
"""
    env_var = "BENCHBOX_COVID_QU_EX_ROOT"
    params = {"normal_class": "Normal", "test_split": "val", "non_covid": False}
    choices = {"test_split": ("val", "test")}
    root_aliases = ("Infection Segmentation Data",)
    known_classes = ("NORMAL", "COVID-19", "NON-COVID")
    layout = (
        "ROOT/[Infection Segmentation Data/]{Train,Val,Test}/{Normal,COVID-19,Non-COVID}/{images,infection masks}/*.png"
    )
    published = "Tahir et al., Computers in Biology and Medicine 139, 2021 (COVID-QU-Ex, Infection Segmentation Data)"

    def split_dir(self, split: str) -> Path | None:
        if split == "test":
            return _child(self._root(), self.test_split)
        if split == "val" and self.test_split == "val":
            return None  # Val is the test split then
        return _child(self._root(), split)

    def val_is_separate(self) -> bool:
        return self.test_split != "val"

    def _list_split(self, split: str) -> list[tuple[Path, str]]:
        items = super()._list_split(split)
        return [it for it in items if self.non_covid or it[1] != "NON-COVID"]

    def mask_source(self, path: Path, class_name: str) -> tuple[bool, Path | None]:
        if class_name == "NON-COVID":
            return False, None
        return super().mask_source(path, class_name)
