"""Dataset plugins on small trees and npz files built here; the real data when present."""

import numpy as np
import pytest
from PIL import Image

from benchbox.datasets import imagefiles
from benchbox.datasets.folder import OCT, ChestXray, FolderDataset
from benchbox.datasets.medmnist import MedMNIST
from benchbox.errors import DataError, ParamError

from .conftest import SHARED_DATA


def write_image(path, size=(40, 30), mode="L", value=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(str(path))) % 2**32)
    shape = (size[1], size[0]) + ((3,) if mode == "RGB" else (4,) if mode == "RGBA" else ())
    array = rng.integers(0, 256, shape, dtype=np.uint8) if value is None else np.full(shape, value, np.uint8)
    Image.fromarray(array, mode).save(path)


def make_tree(root, splits, classes, n=3, mode="L"):
    for split in splits:
        for cls in classes:
            for i in range(n):
                write_image(root / split / cls / f"{cls}-{i}.jpeg", size=(30 + 7 * i, 20 + 5 * i), mode=mode)


def test_oct_official_layout_counts_labels_classes(tmp_path):
    make_tree(tmp_path / "OCT2017", ["train", "test"], ["NORMAL", "CNV", "DME", "DRUSEN"])
    oct_ = OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "cache"))  # finds ROOT/OCT2017
    train, test = oct_.load("train", 32), oct_.load("test", 32)
    assert len(train) == 3 and set(train.classes) == {"NORMAL"} and not train.labels.any()
    assert len(test) == 12 and test.class_counts() == {"CNV": 3, "DME": 3, "DRUSEN": 3, "NORMAL": 3}
    assert test.labels.sum() == 9
    assert test.images.dtype.is_floating_point is False and test.images.shape == (12, 1, 32, 32)
    assert test.ids[0].startswith("test/") and oct_.provenance() == {"protocol": "official"}


def test_lowercase_folders_and_rgb_images(tmp_path):
    make_tree(tmp_path, ["train", "test"], ["normal", "pneumonia"], mode="RGB")
    chest = ChestXray(data_root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    test = chest.load("test", 32)
    assert test.class_counts() == {"NORMAL": 3, "PNEUMONIA": 3} and test.images.shape[1] == 1


def test_chest_val_normals_join_training_by_default(tmp_path):
    make_tree(tmp_path, ["train", "test", "val"], ["NORMAL", "PNEUMONIA"])
    chest = ChestXray(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"))
    assert len(chest.load("train", 32)) == 6 and "val" not in chest.splits()
    separate = ChestXray(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"), include_val_normals=False)
    assert len(separate.load("train", 32)) == 3 and "val" in separate.splits()


def test_dev_protocol_holds_out_normals_never_trained_on(tmp_path):
    make_tree(tmp_path, ["train"], ["NORMAL", "PNEUMONIA"], n=10)
    chest = ChestXray(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"), dev_holdout=0.2)
    train, test = chest.load("train", 32), chest.load("test", 32)
    assert len(train) == 8 and test.class_counts() == {"NORMAL": 2, "PNEUMONIA": 10}
    assert not set(train.ids) & set(test.ids)
    record = chest.provenance()
    assert record["protocol"] == "dev" and sorted(record["train_files"]) == sorted(train.ids)
    again = ChestXray(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"), dev_holdout=0.2)
    assert again.load("test", 32).ids == test.ids  # fixed split, whatever the run seed


def test_dev_protocol_holds_out_whole_patients(tmp_path):
    """Two images of one patient never end up on both sides; a patient with an anomalous
    image is never trained on; protocol=dev works beside a test/ folder."""
    for patient in range(10):
        for study in range(3):
            write_image(tmp_path / "train" / "NORMAL" / f"NORMAL-{patient}-{study}.jpeg")
    write_image(tmp_path / "train" / "CNV" / "CNV-3-0.jpeg")  # patient 3 is sick
    write_image(tmp_path / "test" / "CNV" / "CNV-99-0.jpeg")
    write_image(tmp_path / "test" / "NORMAL" / "NORMAL-98-0.jpeg")
    oct_ = OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"), protocol="dev", dev_holdout=0.25)
    train, test = oct_.dev_split()
    train_patients = {oct_.patient(p) for p, _ in train}
    held_patients = {oct_.patient(p) for p, c in test if c == "NORMAL"}
    assert not train_patients & held_patients and "3" in held_patients
    assert len(held_patients) == 1 + round(9 * 0.25)  # the sick patient, then 2 of the other 9
    assert len(train) == 3 * len(train_patients) and oct_.provenance()["protocol"] == "dev"
    assert OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c")).split_protocol() == "official"
    image_level = OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"), protocol="dev", group_pattern="")
    assert image_level.patient(train[0][0]) is None


def test_group_pattern_and_protocol_are_checked(tmp_path):
    make_tree(tmp_path, ["train"], ["NORMAL", "PNEUMONIA"], n=4)
    bad = FolderDataset(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"), group_pattern="(")
    with pytest.raises(ParamError, match=r"group_pattern '\('"):
        bad.validate()  # while planning
    with pytest.raises(ParamError, match="protocol"):
        FolderDataset(data_root=str(tmp_path), protocol="test")
    official = FolderDataset(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"), protocol="official")
    with pytest.raises(DataError, match="protocol=official needs a test/ folder"):
        official.load("train", 32)


def test_folder_normal_class_parameter(tmp_path):
    make_tree(tmp_path, ["train", "test"], ["good", "bad"])
    data = FolderDataset(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"), normal_class="GOOD")
    assert set(data.load("train", 32).classes) == {"GOOD"}
    assert data.load("test", 32).labels.sum() == 3


def test_corrupt_file_is_named_or_skipped(tmp_path):
    make_tree(tmp_path, ["train", "test"], ["NORMAL", "CNV"])
    bad = tmp_path / "test" / "CNV" / "broken.jpeg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="broken.jpeg"):
        OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c")).load("test", 32)
    with pytest.warns(UserWarning, match="broken.jpeg"):
        test = OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"), skip_bad=True).load("test", 32)
    assert len(test) == 6 and not any("broken" in i for i in test.ids)


def test_missing_root_and_empty_class_are_explained(tmp_path):
    with pytest.raises(DataError, match="does not exist.*Expected layout: ROOT/.*doi:10.17632/rscbjbr9sj"):
        OCT(data_root=str(tmp_path / "nope")).load("train", 32)
    (tmp_path / "train" / "NORMAL").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no images"):
        OCT(data_root=str(tmp_path)).load("train", 32)


def test_second_load_comes_from_the_cache_and_changes_invalidate_it(tmp_path, monkeypatch):
    make_tree(tmp_path, ["train", "test"], ["NORMAL", "CNV"])
    first = OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c")).load("test", 32)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again despite a warm cache")

    monkeypatch.setattr(imagefiles, "decode_all", no_decoding)
    again = OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c")).load("test", 32)
    assert np.array_equal(first.images.numpy(), again.images.numpy()) and first.ids == again.ids
    write_image(tmp_path / "test" / "CNV" / "new.jpeg")
    with pytest.raises(AssertionError, match="warm cache"):
        OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c")).load("test", 32)


@pytest.mark.parametrize("mode", ["RGBA", "P", "I;16"])
def test_decode_other_modes_to_one_channel(tmp_path, mode):
    path = tmp_path / "x.png"
    if mode == "I;16":
        Image.fromarray(np.full((10, 12), 65535, np.uint16)).save(path)
    elif mode == "P":
        Image.fromarray(np.full((10, 12, 3), 200, np.uint8), "RGB").convert("P").save(path)
    else:
        write_image(path, mode="RGBA", value=255)
    out = imagefiles.decode(str(path), 16)
    assert out.shape == (16, 16) and out.dtype == np.uint8 and out.min() > 150


def npz(path, name="pneumoniamnist", size=28, labels=(0, 1, 0, 1, 0, 0), **override):
    labels = np.array(labels, dtype=np.int64).reshape(-1, 1)
    images = np.random.default_rng(0).integers(0, 256, (len(labels), size, size), dtype=np.uint8)
    arrays = {f"{s}_{k}": v for s in ("train", "val", "test") for k, v in (("images", images), ("labels", labels))}
    arrays.update(override)
    target = path / f"{name}.npz"
    np.savez(target, **arrays)
    return target


def test_medmnist_pneumonia_and_oct_maps(tmp_path):
    data = MedMNIST(data_root=str(npz(tmp_path)))
    train, test = data.load("train", 32), data.load("test", 32)
    assert len(train) == 4 and not train.labels.any() and train.images.shape == (4, 1, 32, 32)
    assert test.class_counts() == {"NORMAL": 4, "PNEUMONIA": 2} and set(data.splits()) == {"train", "val", "test"}
    octm = MedMNIST(data_root=str(npz(tmp_path, "octmnist_64", 64, labels=(3, 0, 1, 2, 3))))
    test = octm.load("test", 64)
    assert test.class_counts() == {"CNV": 1, "DME": 1, "DRUSEN": 1, "NORMAL": 2} and test.labels.sum() == 3


@pytest.mark.parametrize(
    "override, message",
    [
        ({"test_labels": np.array([[0], [7], [0], [1], [0], [0]])}, "labels \\[7\\] outside"),
        ({"test_images": np.zeros((6, 28, 28), np.float32)}, "must be uint8"),
        ({"test_images": np.zeros((6, 28, 20), np.uint8)}, "must be N×H×W"),
    ],
)
def test_medmnist_bad_arrays_are_named(tmp_path, override, message):
    with pytest.raises(DataError, match=message):
        MedMNIST(data_root=str(npz(tmp_path, **override))).load("test", 28)


def test_medmnist_missing_key_and_unknown_normal(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, train_images=np.zeros((2, 28, 28), np.uint8), train_labels=np.zeros((2, 1), np.int64))
    with pytest.raises(ParamError, match="normal_label"):
        MedMNIST(data_root=str(path)).load("train", 28)
    with pytest.raises(DataError, match="missing key 'test_images'"):
        MedMNIST(data_root=str(path), normal_label=0).load("test", 28)


@pytest.mark.skipif(not (SHARED_DATA / "chest_xray").is_dir(), reason="real data not present")
def test_real_chest_xray_official_and_dev_splits(tmp_path):
    """../shared/data/README.md: the paper's protocol (1,349 training normals, test 234 + 390),
    and a dev protocol that shares no patient between its training and held-out normals."""
    chest = ChestXray(data_root=str(SHARED_DATA / "chest_xray"), cache_dir=str(tmp_path))
    assert chest.split_protocol() == "official"
    assert len(chest.items("train")) == 1341 + 8  # train/NORMAL + val/NORMAL
    test = chest.items("test")
    assert (sum(c == "NORMAL" for _, c in test), sum(c == "PNEUMONIA" for _, c in test)) == (234, 390)
    dev = ChestXray(data_root=str(SHARED_DATA / "chest_xray"), cache_dir=str(tmp_path), protocol="dev")
    train_items, test_items = dev.dev_split()
    held = [p for p, c in test_items if c == "NORMAL"]
    assert len(train_items) + len(held) == 1349
    assert sum(c == "PNEUMONIA" for _, c in test_items) == 3875
    assert not {dev.patient(p) for p, _ in train_items} & {dev.patient(p) for p in held}
    assert all(dev.patient(p) for p, _ in train_items + test_items)  # every name carries an id


@pytest.mark.skipif(not (SHARED_DATA / "oct").is_dir(), reason="real data not present")
def test_real_oct_counts_and_patient_split(tmp_path):
    oct_ = OCT(data_root=str(SHARED_DATA / "oct"), cache_dir=str(tmp_path))
    train, test = oct_.items("train"), oct_.items("test")
    assert len(train) == 144
    counts = {}
    for _, cls in test:
        counts[cls] = counts.get(cls, 0) + 1
    assert counts == {"NORMAL": 45, "CNV": 209, "DME": 8, "DRUSEN": 11}
    assert not {oct_.patient(p) for p, _ in train} & {oct_.patient(p) for p, _ in test}
    assert oct_.load("val", 32).class_counts() == {"CNV": 8, "DME": 8, "DRUSEN": 8, "NORMAL": 8}


@pytest.mark.skipif(not (SHARED_DATA / "chest_xray").is_dir(), reason="real data not present")
def test_real_chest_xray_end_to_end_official_split(tmp_path):
    from .conftest import run_cli

    result = run_cli(
        "run",
        "--methods",
        "ae",
        "--dataset",
        "chest_xray",
        "--data-root",
        str(SHARED_DATA / "chest_xray"),
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--seeds",
        "0",
        "--results-dir",
        str(tmp_path / "r"),
        "--cache-dir",
        str(tmp_path / "c"),
    )
    assert result.returncode == 0, result.stderr
    import json

    (path,) = (tmp_path / "r" / "chest_xray").glob("*.json")
    record = json.loads(path.read_text())
    assert record["split"]["protocol"] == "official" and record["test_set"]["n"] == 624
    assert record["test_set"]["classes"] == {"NORMAL": 234, "PNEUMONIA": 390}
    assert [h["epoch"] for h in record["history"]] == [1] and "l1" in record["history"][0]


# -- hostile input: each names the culprit -------------------------------------------------
def _jpeg_bytes(size=(32, 32)):
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, content",
    [
        ("truncated.jpeg", _jpeg_bytes((64, 64))[:300]),
        ("empty.jpeg", b""),
        ("notes.jpeg", b"this is a text file, not a jpeg\n"),
    ],
)
def test_undecodable_files_are_named(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=name):
        imagefiles.decode(str(tmp_path / name), 32)


def test_tiny_and_huge_images_decode(tmp_path):
    Image.fromarray(np.full((1, 1), 77, np.uint8)).save(tmp_path / "one.png")
    assert (imagefiles.decode(str(tmp_path / "one.png"), 32) == 77).all()
    Image.new("L", (10_000, 10_000), 200).save(tmp_path / "huge.png")  # 100 Mpx: over Pillow's bomb warning
    assert (imagefiles.decode(str(tmp_path / "huge.png"), 32) == 200).all()


def test_exif_rotation_is_applied(tmp_path):
    array = np.zeros((20, 40), np.uint8)
    array[:, :20] = 255  # left half white, landscape
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    image.save(tmp_path / "rotated.jpeg", exif=exif.tobytes(), quality=100)
    out = imagefiles.decode(str(tmp_path / "rotated.jpeg"), 40)
    assert out[:20].mean() > 200 and out[20:].mean() < 50  # displayed: white on top


def test_missing_normal_class_folder_is_explained(tmp_path):
    make_tree(tmp_path, ["train", "test"], ["CNV"])
    with pytest.raises(DataError, match="no normal training images \\(normal class 'NORMAL'\\)"):
        OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c")).load("train", 32)
    make_tree(tmp_path / "other", ["train", "test"], ["good", "bad"])
    with pytest.raises(DataError, match="no class folder named 'NORMAL' \\(normal_class\\) .* found: BAD, GOOD"):
        FolderDataset(data_root=str(tmp_path / "other"), cache_dir=str(tmp_path / "c")).validate()


def test_a_kermany_plugin_refuses_the_other_datasets_tree(tmp_path):
    make_tree(tmp_path, ["train", "test"], ["NORMAL", "CNV", "DME", "DRUSEN"])
    chest = ChestXray(data_root=str(tmp_path), cache_dir=str(tmp_path / "c"))
    with pytest.raises(
        DataError,
        match="holds class folder\\(s\\) CNV, DME, DRUSEN, which are not chest_xray's classes \\(NORMAL, PNEUMONIA\\)",
    ):
        chest.validate()
    OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c")).validate()  # its own tree passes


def test_split_folder_without_class_folders_is_explained(tmp_path):
    make_tree(tmp_path, ["train"], ["NORMAL"])
    (tmp_path / "test").mkdir()
    with pytest.raises(DataError, match="test has no class folders"):
        OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c")).load("test", 32)


def test_hidden_folders_stray_files_and_symlink_loops_are_ignored(tmp_path):
    make_tree(tmp_path, ["train", "test"], ["NORMAL", "CNV"])
    make_tree(tmp_path, ["test"], [".ipynb_checkpoints"])
    (tmp_path / "test" / "CNV" / "readme.txt").write_text("not an image")
    (tmp_path / "test" / "CNV" / "nested").mkdir()
    write_image(tmp_path / "test" / "CNV" / "nested" / "deeper.jpeg")
    (tmp_path / "test" / "loop").symlink_to(tmp_path / "test" / "loop")  # a link to itself
    os_loop = tmp_path / "test" / "CNV" / "self"
    os_loop.symlink_to(tmp_path / "test" / "CNV")
    test = OCT(data_root=str(tmp_path), cache_dir=str(tmp_path / "c")).load("test", 32)
    assert test.class_counts() == {"CNV": 3, "NORMAL": 3}
