"""benchmarks/image_groups.py: one row per split × class × file-name group, with the framing
statistic low where the image is filled and high where the body sits in a dark frame."""

import json

import numpy as np
from PIL import Image

from .conftest import benchmark_script, result_record

image_groups = benchmark_script("image_groups")


def framed(width_of_body: int) -> np.ndarray:
    """A 40×40 image: a bright body `width_of_body` columns wide, centred, on black."""
    image = np.zeros((40, 40), np.uint8)
    left = (40 - width_of_body) // 2
    image[:, left : left + width_of_body] = 200
    return image


def test_groups_and_framing(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "chest_xray"
    images = {  # path: body width (40: the chest fills the image)
        "train/NORMAL/IM-0115-0001.jpeg": 20,
        "train/NORMAL/IM-0117-0001.jpeg": 20,
        "train/NORMAL/NORMAL2-IM-0383-0001.jpeg": 20,
        "test/NORMAL/IM-0001-0001.jpeg": 40,
        "test/NORMAL/NORMAL2-IM-0007-0001.jpeg": 20,
        "test/PNEUMONIA/person1_virus_6.jpeg": 20,
        "test/PNEUMONIA/person78_bacteria_1.jpeg": 40,
    }
    for path, width in images.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(framed(width)).save(root / path)
    # a finished cell on the official split, and one on the dev protocol that must be left out
    ids = [
        "test/NORMAL/IM-0001-0001.jpeg",
        "test/NORMAL/NORMAL2-IM-0007-0001.jpeg",
        "test/PNEUMONIA/person1_virus_6.jpeg",
        "test/PNEUMONIA/person78_bacteria_1.jpeg",
    ]
    for protocol, name in (("auto", "ae__seed0__aaaaaaaaaaaa.json"), ("dev", "ae__seed0__bbbbbbbbbbbb.json")):
        cell = result_record(
            "ae",
            0,
            "chest_xray",
            metrics={"auroc": 0.5},
            dataset_params={"protocol": protocol},
            image_size=20,
            epochs=1,
            scores={"ids": ids, "labels": [0, 0, 1, 1], "scores": [0.7, 0.1, 0.5, 0.6]},
        )
        (tmp_path / "cells" / "chest_xray").mkdir(parents=True, exist_ok=True)
        (tmp_path / "cells" / "chest_xray" / name).write_text(json.dumps(cell))
    image_groups.main(
        ["--data-root", str(root), "--size", "20", "--out", str(tmp_path / "out"), "--cells", str(tmp_path / "cells")]
    )

    recorded = json.loads((tmp_path / "out" / "groups.json").read_text())
    rows = {r["group"]: r for r in recorded["rows"]}
    assert list(rows) == [
        "train/NORMAL, IM",
        "train/NORMAL, NORMAL2",
        "test/NORMAL, IM",
        "test/NORMAL, NORMAL2",
        "test/PNEUMONIA, bacteria",
        "test/PNEUMONIA, virus",
    ]
    assert rows["train/NORMAL, IM"]["n"] == 2 and rows["train/NORMAL, IM"]["patients"] == [115, 117]
    assert rows["test/PNEUMONIA, bacteria"]["patients"] == [78, 78]
    assert rows["test/NORMAL, IM"]["dark_sides"][0] == 0.0  # the body fills the image
    assert rows["test/NORMAL, NORMAL2"]["dark_sides"][0] == 1.0  # the outer tenth is background
    # test: the filled normal ranks with the filled bacteria image, above the framed virus image
    assert recorded["framing_auroc"] == 0.5
    assert "| test/NORMAL, IM | 1 | 1–1 |" in (tmp_path / "out" / "groups.md").read_text()
    # one test normal per series: one quarter each, the others empty and left out
    assert [(q["group"], q["quarter"], q["ids"]) for q in recorded["test_normal_quarters"]] == [
        ("test/NORMAL, IM", 1, ["test/NORMAL/IM-0001-0001.jpeg"]),
        ("test/NORMAL, NORMAL2", 1, ["test/NORMAL/NORMAL2-IM-0007-0001.jpeg"]),
    ]
    # the IM normal (0.7) above both pneumonia images, the NORMAL2 one (0.1) below both; one cell only
    assert [q["auroc"] for q in recorded["test_normal_quarters"]] == [
        {"ae (20², 1 epochs)": [0.0]},
        {"ae (20², 1 epochs)": [1.0]},
    ]
    assert "| ae (20², 1 epochs) | 0.000 | 1.000 |" in (tmp_path / "out" / "groups.md").read_text()


def test_auroc_against_one_set_of_normals_keeps_every_abnormal_image():
    record = {
        "label": "m",
        "scores": {"ids": ["n1", "n2", "a1", "a2"], "labels": [0, 0, 1, 1], "scores": [0.9, 0.1, 0.5, 0.6]},
    }
    # n1 scores above both abnormal images, n2 below both
    assert image_groups.auroc_against([record, record], ["n1"]) == {"m": [0.0, 0.0]}
    assert image_groups.auroc_against([record], ["n2"]) == {"m": [1.0]}
    assert image_groups.auroc_against([record], ["n1", "n2"]) == {"m": [0.5]}
