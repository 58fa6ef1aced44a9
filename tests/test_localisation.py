"""Pixel-level ground truth: masks from every layout, anomaly maps, pixel metrics, the leak audit."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from benchbox.contracts import ImageSet, Method
from benchbox.datasets.folder import CovidQuEx, FolderDataset
from benchbox.datasets.medianomaly import MedIAnomaly
from benchbox.datasets.synthetic import Synthetic
from benchbox.errors import DataError
from benchbox.hookspecs import hookimpl
from benchbox.leaks import audit
from benchbox.localisation import auroc_from_histograms, image_histograms, pixel_metrics
from benchbox.significance import paired_bootstrap_pixel

from .conftest import SHARED_DATA


def _masks(n=12, size=24, seed=0):
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), np.uint8)
    for i in range(n // 2, n):  # the second half anomalous, one or two blobs each
        for _ in range(1 + i % 2):
            y, x = rng.integers(0, size - 6, 2)
            masks[i, y : y + rng.integers(2, 6), x : x + rng.integers(2, 6)] = 1
    return masks


def _exact_aupro(maps, masks, limit=0.3):
    """AUPRO from every distinct score as a threshold (the definition, slowly)."""
    from scipy.ndimage import label

    regions = []
    for m, t in zip(maps, masks):
        components, count = label(t, structure=np.ones((3, 3)))
        regions += [m[components == c] for c in range(1, count + 1)]
    negatives = maps[masks == 0]
    fpr, pro = [0.0], [0.0]
    for threshold in np.unique(maps)[::-1]:
        fpr.append((negatives >= threshold).mean())
        pro.append(np.mean([(r >= threshold).mean() for r in regions]))
    fpr, pro = np.array(fpr), np.array(pro)
    keep = fpr <= limit
    j = keep.sum()
    x, y = fpr[keep], pro[keep]
    if j < len(fpr):
        x, y = np.append(x, limit), np.append(y, np.interp(limit, fpr[j - 1 : j + 1], pro[j - 1 : j + 1]))
    return np.trapezoid(y, x) / limit


def test_a_map_equal_to_the_mask_scores_one_and_a_constant_map_chance():
    masks = _masks()
    perfect = pixel_metrics(masks.astype(np.float32), masks)
    assert perfect["pixel_auroc"] == 1.0 and perfect["aupro"] == pytest.approx(1.0) and perfect["best_dice"] == 1.0
    constant = pixel_metrics(np.zeros(masks.shape), masks)
    assert constant["pixel_auroc"] == 0.5
    assert constant["aupro"] == pytest.approx(0.15)  # the chance line PRO = FPR, integrated to 0.3 / 0.3
    inverted = pixel_metrics(1.0 - masks, masks)
    assert inverted["pixel_auroc"] == 0.0 and inverted["aupro"] == 0.0


def test_binned_metrics_agree_with_exact_definitions():
    masks = _masks(n=10, size=20, seed=3)
    rng = np.random.default_rng(1)
    maps = rng.normal(size=masks.shape) + 1.2 * masks
    found = pixel_metrics(maps, masks)
    assert found["pixel_auroc"] == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-3)
    assert found["aupro"] == pytest.approx(_exact_aupro(maps, masks), abs=5e-3)
    dice = [2 * ((maps >= t) & (masks == 1)).sum() / ((maps >= t).sum() + masks.sum()) for t in np.unique(maps)]
    assert found["best_dice"] == pytest.approx(max(dice), abs=5e-3)
    assert found["dice_threshold_on"] == "test masks"


def test_images_with_unknown_masks_are_left_out():
    masks = _masks()
    maps = masks.astype(np.float32)
    maps[0] = 1.0  # a normal image flagged everywhere...
    known = np.ones(len(masks), bool)
    known[0] = False  # ...but its mask is unknown: not counted
    assert pixel_metrics(maps, masks, known)["pixel_auroc"] == 1.0
    assert pixel_metrics(maps, masks)["pixel_auroc"] < 1.0
    with pytest.raises(ValueError, match="no image has a known mask"):
        pixel_metrics(maps, masks, np.zeros(len(masks), bool))


def test_histograms_give_the_pixel_auroc_and_the_pixel_bootstrap_pairs_methods():
    masks = _masks(n=16, seed=5)
    rng = np.random.default_rng(2)
    good = [rng.normal(size=masks.shape) + 2.0 * masks for _ in range(2)]
    weak = [rng.normal(size=masks.shape) + 0.3 * masks for _ in range(2)]
    positive, negative = image_histograms(good[0], masks)
    assert auroc_from_histograms(positive.sum(0), negative.sum(0)) == pytest.approx(
        roc_auc_score(masks.ravel(), good[0].ravel()), abs=5e-3
    )
    hists = [[image_histograms(m, masks) for m in maps] for maps in (good, weak)]
    better = paired_bootstrap_pixel(hists[0], hists[1], n_boot=300)
    assert better["delta"] > 0.2 and better["ci_low"] > 0 and better["p_value"] < 0.01
    same = paired_bootstrap_pixel(hists[0], hists[0], n_boot=300)
    assert same["delta"] == 0.0 and same["p_value"] == 1.0


# -- masks from each layout -------------------------------------------------------------------
def _image(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8), "L").save(path)


def _lesion(size=32, seed=0):
    """An image whose bright square is its anomaly, and the square's mask (0/255)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, (size, size))
    mask = np.zeros((size, size), np.uint8)
    y, x = rng.integers(2, size - 12, 2)
    mask[y : y + 8, x : x + 10] = 255
    image[mask > 0] = 255
    return image, mask


def _normal(size=32, seed=0):
    return np.random.default_rng(100 + seed).integers(0, 60, (size, size))


def mvtec_tree(root, n=3):
    for i in range(n):
        _image(root / "train" / "good" / f"{i:03d}.png", _normal(seed=i))
        _image(root / "test" / "good" / f"{i:03d}.png", _normal(seed=10 + i))
        image, mask = _lesion(seed=i)
        _image(root / "test" / "crack" / f"{i:03d}.png", image)
        _image(root / "ground_truth" / "crack" / f"{i:03d}_mask.png", mask)
    return root


def bmad_tree(root, n=3):
    for i in range(n):
        _image(root / "train" / "good" / f"{i}.png", _normal(seed=i))
        _image(root / "test" / "good" / "img" / f"n{i}.png", _normal(seed=10 + i))
        _image(root / "test" / "good" / "label" / f"n{i}.png", np.zeros((32, 32)))
        image, mask = _lesion(seed=i)
        _image(root / "test" / "Ungood" / "img" / f"a{i}.png", image)
        _image(root / "test" / "Ungood" / "label" / f"a{i}.png", mask)
    return root


def covid_tree(root, n=3):
    base = root / "Infection Segmentation Data"
    for i in range(n):
        _image(base / "Train" / "Normal" / "images" / f"Normal ({i}).png", _normal(seed=i))
        _image(base / "Val" / "Normal" / "images" / f"Normal ({10 + i}).png", _normal(seed=10 + i))
        image, mask = _lesion(seed=i)
        _image(base / "Val" / "COVID-19" / "images" / f"covid_{i}.png", image)
        _image(base / "Val" / "COVID-19" / "infection masks" / f"covid_{i}.png", mask)
        _image(base / "Val" / "Non-COVID" / "images" / f"non_{i}.png", _lesion(seed=20 + i)[0])
    return root


def medianomaly_tree(root, n=3, masks=True):
    names = {"train": [], "test0": [], "test1": []}
    for i in range(n):
        _image(root / "images" / f"tr{i}.png", _normal(seed=i))
        _image(root / "images" / f"te{i}.png", _normal(seed=10 + i))
        image, mask = _lesion(seed=i)
        _image(root / "images" / f"an{i}.png", image)
        if masks:
            _image(root / "annotations" / f"an{i}.png", mask)
        names["train"].append(f"tr{i}.png")
        names["test0"].append(f"te{i}.png")
        names["test1"].append(f"an{i}.png")
    (root / "data.json").write_text(
        json.dumps({"train": {"0": names["train"]}, "test": {"0": names["test0"], "1": names["test1"]}})
    )
    return root


LAYOUTS = {
    "mvtec": lambda root: FolderDataset(data_root=mvtec_tree(root), normal_class="good"),
    "bmad": lambda root: FolderDataset(data_root=bmad_tree(root), normal_class="good"),
    "covid_qu_ex": lambda root: CovidQuEx(data_root=covid_tree(root)),
    "medianomaly": lambda root: MedIAnomaly(data_root=medianomaly_tree(root)),
}


class BrightIsAnomalous(Method):
    """A map that equals the mask on these images (their anomalies are the only white pixels),
    computed from the pixels alone; or a constant map."""

    name = "bright"
    params = {"constant": False}

    def fit(self, train, *, on_epoch=None):
        return self

    def score(self, data):
        return data.images.float().flatten(1).amax(1).numpy()

    def anomaly_maps(self, data):
        maps = (data.images[:, 0] == 255).float().numpy()
        return np.zeros_like(maps) if self.constant else maps


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_masks_flow_from_each_layout_into_pixel_metrics(tmp_path, plugins, layout):
    from benchbox.execute import DataCache, execute_cell
    from benchbox.plan import plan

    dataset = LAYOUTS[layout](tmp_path / layout)
    test = dataset.load("test", 32)
    anomalous = test.labels == 1
    assert test.masks is not None and test.masks[torch.from_numpy(anomalous)].flatten(1).any(1).all()
    assert not test.masks[torch.from_numpy(~anomalous)].any()
    assert torch.equal(test.masks[:, 0] == 1, test.images[:, 0] == 255)  # resized with the image
    plugins.register(
        SimpleNamespace(benchbox_register_methods=hookimpl(lambda register: register(BrightIsAnomalous))), "bright"
    )
    name = {"mvtec": "folder", "bmad": "folder"}.get(layout, layout)
    params = ["folder.normal_class=good"] if name == "folder" else []
    overrides = [(p.split(".")[0], *p.split(".", 1)[1].split("=")) for p in params]
    for entry, expected in (("bright", (1.0, 1.0)), ("bright[constant=true]", (0.5, 0.15))):
        (cell,) = plan(plugins, [entry], [name], [0], image_size=32, data_root=str(dataset.data_root),
                       overrides=overrides)  # fmt: skip
        record = execute_cell(cell, plugins, DataCache(plugins))
        assert record["status"] == "ok", record.get("error")
        found = record["pixel_metrics"]
        assert (found["pixel_auroc"], found["aupro"]) == pytest.approx(expected)
        assert record["leak_audit"]["identical"] == 0


def test_covid_qu_ex_non_covid_is_image_level_only(tmp_path):
    root = covid_tree(tmp_path)
    plain = CovidQuEx(data_root=root).load("test", 32)
    assert plain.class_counts() == {"COVID-19": 3, "NORMAL": 3} and plain.mask_known.all()
    both = CovidQuEx(data_root=root, non_covid=True).load("test", 32)
    assert both.class_counts()["NON-COVID"] == 3
    assert (~both.mask_known).sum() == 3 and all(
        c == "NON-COVID" for c, k in zip(both.classes, both.mask_known) if not k
    )
    assert CovidQuEx(data_root=root).splits() == ["train", "test"]  # Val is the test split


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "does not exist"),
        ("size", "mask of 16×16 pixels, but its image"),
        ("grey", "not a binary mask"),
    ],
)
def test_a_bad_mask_is_named(tmp_path, damage, message):
    root = mvtec_tree(tmp_path)
    mask = root / "ground_truth" / "crack" / "001_mask.png"
    if damage == "missing":
        mask.unlink()
    elif damage == "size":
        _image(mask, np.zeros((16, 16)))
    else:
        _image(mask, np.arange(32 * 32).reshape(32, 32) % 7 * 30)
    with pytest.raises(DataError, match=message) as error:
        FolderDataset(data_root=root, normal_class="good").load("test", 32)
    assert "001_mask.png" in str(error.value)


def test_synthetic_masks_are_the_pixels_a_lesion_changed():
    test = Synthetic(n_test=40).load("test", 32)
    per_image = test.masks.flatten(1).sum(1).numpy()
    assert (per_image[test.labels == 0] == 0).all() and (per_image[test.labels == 1] > 0).all()
    # a lesion changes the pixels under its mask: an anomalous image differs most from normal
    # ones there (its fluid pocket is dark, its drusen lift the bright layer)
    assert test.has_masks() and not Synthetic().load("train", 32).has_masks()


def test_medianomaly_layout_and_missing_files(tmp_path):
    root = medianomaly_tree(tmp_path, masks=False)
    dataset = MedIAnomaly(data_root=root)
    test = dataset.load("test", 32)
    assert test.class_counts() == {"ANOMALOUS": 3, "NORMAL": 3} and test.masks is None
    assert len(dataset.load("train", 32)) == 3
    (root / "images" / "tr1.png").unlink()
    (root / "images" / "te2.png").unlink()
    with pytest.raises(DataError, match=r"1 of the 3 train images data.json lists are not in .*tr1\.png.*skip_missing"):
        MedIAnomaly(data_root=root).load("train", 32)
    with pytest.warns(UserWarning, match="1 of the 6 test images"):
        kept = MedIAnomaly(data_root=root, skip_missing=True).load("test", 32)
    assert len(kept) == 5
    assert MedIAnomaly(data_root=root, skip_missing=True).provenance() == {
        "listed_but_missing": {"train": 1, "test": 1}
    }
    (root / "data.json").write_text('{"train": {"0": []}}')
    with pytest.raises(DataError, match=r'needs "test": \{"0"'):
        MedIAnomaly(data_root=root).load("test", 32)


# -- the leak audit -----------------------------------------------------------------------------
def _set(arrays, prefix):
    images = torch.from_numpy(np.stack(arrays).astype(np.uint8))[:, None]
    n = len(arrays)
    return ImageSet(images, np.zeros(n), ["NORMAL"] * n, [f"{prefix}/{i}" for i in range(n)])


def test_the_audit_finds_identical_and_near_identical_copies_only():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    scans = [np.clip(120 + 80 * np.sin(xx / (4 + k) + k) * np.cos(yy / (5 + k)), 0, 255) for k in range(8)]
    train = _set(scans[:6], "train")
    copy = scans[1]
    reencoded = np.clip(scans[2] * 0.9 + 12 + rng.normal(0, 2, (64, 64)), 0, 255)  # contrast change, noise
    test = _set([copy, reencoded, scans[6], scans[7]], "test")
    found = audit(train, test)
    assert (found["identical"], found["near_identical"]) == (1, 1)
    assert found["flagged_ids"] == ["test/0", "test/1"] and found["identical_basis"] == "decoded pixels"
    assert found["examples_identical"] == [["test/0", "train/1"]] and found["examples_near"] == [["test/1", "train/2"]]
    digests = {**{f"train/{i}": f"d{i}" for i in range(6)}, **{f"test/{i}": f"e{i}" for i in range(4)}}
    digests["test/2"] = "d5"  # same bytes as train/5 although the pixels differ: bytes decide
    by_bytes = audit(train, test, digests)
    assert by_bytes["identical"] == 1 and by_bytes["examples_identical"] == [["test/2", "train/5"]]


def test_leaks_drop_removes_the_copies_and_records_it(tmp_path, plugins):
    from benchbox.execute import DataCache, execute_cell
    from benchbox.plan import plan

    root = mvtec_tree(tmp_path)
    copy = root / "test" / "good" / "copy.png"
    copy.write_bytes((root / "train" / "good" / "000.png").read_bytes())
    records = {}
    for leaks in ("keep", "drop"):
        (cell,) = plan(plugins, ["pca"], ["folder"], [0], image_size=32, data_root=str(root),
                       overrides=[("folder", "normal_class", "good")], dimensions={"leaks": leaks})  # fmt: skip
        records[leaks] = execute_cell(cell, plugins, DataCache(plugins))
    assert records["keep"]["leak_audit"]["identical"] == 1 and records["keep"]["test_set"]["n"] == 7
    assert records["drop"]["leak_audit"]["dropped"] == 1 and records["drop"]["test_set"]["n"] == 6
    assert "test/good/copy.png" not in records["drop"]["scores"]["ids"]
    assert records["drop"]["label"] == "pca; leaks=drop" and records["drop"]["key"] != records["keep"]["key"]


# -- the real data ------------------------------------------------------------------------------
COVID = SHARED_DATA / "covid_qu_ex"
BRAIN = SHARED_DATA / "brain_tumor"


@pytest.mark.skipif(not COVID.is_dir(), reason="COVID-QU-Ex not in ../shared/data")
def test_real_covid_qu_ex_val_split_and_masks():
    dataset = CovidQuEx(data_root=str(COVID), non_covid=True)
    assert len(dataset.load("train", 32)) == 932
    test = dataset.load("test", 32)
    assert test.class_counts() == {"COVID-19": 466, "NON-COVID": 233, "NORMAL": 233}
    covid = np.array(test.classes) == "COVID-19"
    assert test.mask_known[covid].all() and not test.mask_known[np.array(test.classes) == "NON-COVID"].any()
    assert test.masks[torch.from_numpy(covid)].flatten(1).any(1).all()


@pytest.mark.skipif(not BRAIN.is_dir(), reason="brain_tumor not in ../shared/data")
def test_real_brain_tumor_in_medianomaly_layout():
    dataset = MedIAnomaly(data_root=str(BRAIN))
    assert len(dataset.load("train", 32)) == 998
    assert dataset.load("test", 32).class_counts() == {"ANOMALOUS": 600, "NORMAL": 599}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_passes_the_dataset_checks(tmp_path, layout):
    from benchbox.conformance import check_dataset

    dataset = LAYOUTS[layout](tmp_path)
    params = {"normal_class": "good"} if layout in ("mvtec", "bmad") else {}
    check_dataset(type(dataset), data_root=str(dataset.data_root), cache_dir=str(tmp_path / "cache"), **params)


def test_run_table_report_and_audit_show_localisation_and_leaks(tmp_path):
    from .conftest import run_cli

    results = tmp_path / "results"
    tiny = ["--param", "synthetic.n_train=48", "--param", "synthetic.n_test=32"]
    ran = run_cli("run", "--methods", "pca,knn,intensity", "--seeds", "0,1", "--results-dir", str(results), *tiny)
    assert ran.returncode == 0, ran.stderr
    table = run_cli("table", "--results-dir", str(results), "--level", "pixel")
    assert table.returncode == 0 and "P-AUROC" in table.stdout and "AUPRO@0.3" in table.stdout
    assert "| PCA (pixels)" in table.stdout and "ntensity" not in table.stdout  # no map: not a row
    report = run_cli("report", "--results-dir", str(results), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    index = (tmp_path / "report" / "index.md").read_text()
    assert "### Localisation" in index and "No anomaly maps: intensity" in index
    assert "Pixel AUROC against the best" in index and "### Leak audit" in index
    assert (tmp_path / "report" / "synthetic-maps-pca.png").is_file()
    # every method's map of the same test images, in one figure
    assert (tmp_path / "report" / "synthetic-maps.png").is_file() and "](synthetic-maps.png)" in index
    assert (tmp_path / "report" / "synthetic-localisation.csv").is_file()
    audited = run_cli("audit", "--dataset", "synthetic", *tiny)
    assert audited.returncode == 0 and "synthetic test: 0 identical (by decoded pixels)" in audited.stdout
    assert "synthetic val: 0 identical" in audited.stdout


def test_the_pixel_metrics_benchmark_runs_small(tmp_path):
    from .conftest import benchmark_script

    result = benchmark_script("pixel_metrics").main(["--images", "8", "--size", "32", "--out", str(tmp_path)])
    assert result["auroc_difference"] < 1e-3 and (tmp_path / "results.json").is_file()
