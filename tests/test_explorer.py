"""What the runner stores for the report's image explorer, and the explorer's data and page
built from it (the page itself is driven in a real browser by test_browser.py)."""

import json
import shutil

import numpy as np
import pytest
import torch

from benchbox.contracts import ImageSet
from benchbox.report.explorer import contour, ranks
from benchbox.thumbnails import image_thumbnails, map_thumbnails

from .conftest import ROOT, run_cli

SMALL = ["--param", "synthetic.n_train=64", "--param", "synthetic.n_test=48", "--epochs", "1"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    run = run_cli("run", "--methods", "ae,ssim_ae,intensity", "--seeds", "0,1", "--results-dir", str(root), *SMALL)
    assert run.returncode == 0, run.stderr
    return root


@pytest.fixture(scope="module")
def report(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    done = run_cli("report", "--results-dir", str(results), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def explorer(report, name="synthetic"):
    """The explorer's data as the page assembles it from its two scripts."""

    def read(path):
        text = path.read_text()
        return json.loads(text[text.index("]=") + 2 : text.rindex(";")])

    data = read(report / f"explorer-{name}.js")
    return {**data, "images": read(report / f"{data['images']}.js")}


def test_thumbnails_keep_small_lesions_and_maps_keep_their_scale():
    images = torch.zeros(2, 1, 200, 200, dtype=torch.uint8)
    masks = torch.zeros_like(images)
    masks[1, 0, 100:106, 100:106] = 1  # 6 pixels across: about 3 of a 96-pixel thumbnail
    thumbs = image_thumbnails(ImageSet(images + 7, np.array([0, 1]), ["n", "a"], ["x", "y"], masks))
    assert thumbs["images"].shape == (2, 96, 96) and (thumbs["images"] == 7).all()
    assert not thumbs["masks"][0].any() and 4 <= thumbs["masks"][1].sum() <= 16
    assert thumbs["ids"].tolist() == ["x", "y"] and thumbs["mask_known"].all()
    small = image_thumbnails(ImageSet(torch.zeros(1, 1, 64, 64, dtype=torch.uint8), np.array([0]), ["n"], ["z"]))
    assert small["images"].shape == (1, 64, 64) and "masks" not in small  # never upscaled
    maps = np.linspace(0, 10, 3 * 64 * 64, dtype=np.float32).reshape(3, 64, 64)
    stored = map_thumbnails(maps)
    assert stored["explorer_maps"].shape == (3, 32, 32) and stored["explorer_maps"].dtype == np.uint8
    low, high = stored["explorer_map_range"]
    assert 0 < low < 0.1 and 9.9 < high < 10  # the 0.5th and 99.5th percentiles
    assert stored["explorer_maps"][0, 0, 0] == 0 and stored["explorer_maps"][-1, -1, -1] == 255


def test_contour_is_the_masks_edge_and_ranks_share_ties():
    mask = np.zeros((7, 7), bool)
    mask[2:5, 2:5] = True
    edge = contour(mask)
    assert edge.sum() == 8 and edge[3, 3] == 0 and edge[2, 2] == 1
    assert ranks(np.array([0.3, 0.9, 0.3, 0.1])).tolist() == [2, 1, 2, 4]


def test_the_runner_stores_every_test_images_map_and_one_thumbnail_file(results):
    records = [json.loads(p.read_text()) for p in (results / "synthetic").glob("*.json")]
    thumbnails = list((results / "synthetic" / "thumbnails").glob("*.npz"))
    assert len(thumbnails) == 1  # one test set, six cells
    with np.load(thumbnails[0]) as data:
        assert data["ids"].tolist() == records[0]["scores"]["ids"] and data["images"].shape == (48, 32, 32)
        assert data["masks"].any()
    for path in (results / "synthetic").glob("ae__*.npz"):
        with np.load(path) as data:
            assert data["explorer_maps"].shape == (48, 32, 32)
    assert not list((results / "synthetic").glob("intensity__*.npz"))  # the floor makes no maps


def test_explorer_data_matches_the_records(results, report):
    data = explorer(report)
    records = {
        (r["method"], r["seed"]): r for r in (json.loads(p.read_text()) for p in (results / "synthetic").glob("*.json"))
    }
    names = [run["name"] for run in data["runs"]]
    assert names == ["AE, seed 0", "AE, seed 1", "SSIM-AE, seed 0", "SSIM-AE, seed 1", "Intensity floor"]  # floor once
    images = data["images"]
    assert len(images["ids"]) == 48 and all(images["thumbs"]) and sum(map(bool, images["contours"])) > 0
    ae = records[("ae", 1)]
    run = data["runs"][1]
    order = [images["ids"].index(i) for i in ae["scores"]["ids"]]
    assert [run["scores"][k] for k in order] == ae["scores"]["scores"]
    threshold = ae["metrics"]["thresholds"]["test_best_f1"]
    assert run["threshold"] == threshold["threshold"]
    labels, scores = np.asarray(ae["scores"]["labels"]), np.asarray(ae["scores"]["scores"])
    false_positives = int(((labels == 0) & (scores >= threshold["threshold"])).sum())
    assert false_positives == round((1 - threshold["spe"]) * (labels == 0).sum())  # the table's SPE
    best = int(np.argmax(scores))
    assert run["ranks"][order[best]] == 1 and all(run["maps"]) and not any(data["runs"][-1]["maps"])


def test_index_html_holds_every_table_sortable_and_the_explorer(report):
    page = (report / "index.html").read_text()
    assert page.count('<table class="sortable">') >= 4 and "<strong>" in page
    assert '<script src="explorer-synthetic.js"></script>' in page and 'data-source="explorer-synthetic"' in page
    assert page.count('<script src="explorer-images-') == 1
    assert "http://" not in page and "https://" not in page  # nothing fetched from the network
    assert 'src="synthetic-roc.png"' in page
    index = (report / "index.md").read_text()
    assert "In [index.html](index.html)" in index and "48 test images" in index


def test_cells_made_before_the_explorer_show_scores_without_pictures(results, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(results, old)
    shutil.rmtree(old / "synthetic" / "thumbnails")
    for path in (old / "synthetic").glob("*.npz"):
        path.unlink()
    done = run_cli("report", "--results-dir", str(old), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    data = explorer(tmp_path / "out")
    assert not any(data["images"]["thumbs"]) and all(s is not None for s in data["runs"][0]["scores"])
    assert "0 with a thumbnail, 0 runs with stored maps" in (tmp_path / "out" / "index.md").read_text()


# -- in a real browser: Debian's Chromium driven through its chromedriver ---------------------
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = ROOT / "test-output"  # the browser test's screenshot is kept here (ignored by git)


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("no Chromium: install Debian's chromium and chromium-driver (.ci/run does where it can)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (  # offline and as root: no sandbox, no background connections to refuse
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1300,1000",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_the_report_in_a_browser_sorts_filters_and_shows_images_and_maps(results, report, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get((report / "index.html").as_uri())
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".explorer .count"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors

    # Table I sorts by AUROC, both ways, the reference row (every image flagged) staying last.
    table = browser.find_element(By.CSS_SELECTOR, "section table.sortable")
    heading = next(h for h in table.find_elements(By.CSS_SELECTOR, "thead tr:last-child th") if h.text == "AUC")
    column = table.find_elements(By.CSS_SELECTOR, "thead tr:last-child th").index(heading)

    def aurocs():
        rows = table.find_elements(By.CSS_SELECTOR, "tbody:first-of-type tr")
        return [float(row.find_elements(By.CSS_SELECTOR, "th, td")[column].get_attribute("data-v")) for row in rows]

    heading.click()
    assert aurocs() == sorted(aurocs()) and heading.get_attribute("aria-sort") == "ascending"
    heading.click()
    assert aurocs() == sorted(aurocs(), reverse=True) and len(aurocs()) == 3
    assert "flagged" in table.find_element(By.CSS_SELECTOR, "tbody.reference").text

    # The explorer: AE seed 0 ranks the images; its false positives at its threshold.
    root = browser.find_element(By.CSS_SELECTOR, ".explorer")
    selects = root.find_elements(By.TAG_NAME, "select")
    Select(selects[0]).select_by_visible_text(
        next(o.text for o in Select(selects[0]).options if o.text.startswith("AE, seed 0"))
    )
    Select(root.find_elements(By.TAG_NAME, "select")[2]).select_by_value("fp")
    ae = json.loads(next((results / "synthetic").glob("ae__seed0__*.json")).read_text())
    labels, scores = np.asarray(ae["scores"]["labels"]), np.asarray(ae["scores"]["scores"])
    expected = int(((labels == 0) & (scores >= ae["metrics"]["thresholds"]["test_best_f1"]["threshold"])).sum())
    assert expected > 0
    count = root.find_element(By.CSS_SELECTOR, ".count")
    assert int(count.get_attribute("data-count")) == expected and count.text == f"{expected} images"
    cards = root.find_elements(By.CSS_SELECTOR, ".card")
    assert len(cards) == expected and all("fp" in c.get_attribute("class").split() for c in cards)
    shown = [float(c.text.split("AE, seed 0: ")[1].split()[0]) for c in cards]
    assert shown == sorted(shown, reverse=True)  # ranked by A's score

    # Anomalous images, AE beside SSIM-AE: image, map and mask contour drawn in both.
    second = Select(root.find_elements(By.TAG_NAME, "select")[1])
    second.select_by_visible_text(next(o.text for o in second.options if o.text.startswith("SSIM-AE, seed 0")))
    Select(root.find_elements(By.TAG_NAME, "select")[2]).select_by_value("anomalous")
    card = root.find_element(By.CSS_SELECTOR, ".card")
    assert len(card.find_elements(By.CSS_SELECTOR, ".picture")) == 2
    loaded = "return arguments[0].complete && arguments[0].naturalWidth > 0"
    for kind in ("image", "map", "contour"):
        pictures = card.find_elements(By.CSS_SELECTOR, f".picture img.{kind}")
        assert len(pictures) == 2 and all(browser.execute_script(loaded, p) for p in pictures), kind
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView()", root)
    assert browser.save_screenshot(str(SCREENSHOTS / "explorer.png"))
    print(f"screenshot: {SCREENSHOTS / 'explorer.png'}")


def test_sections_showing_the_same_images_share_one_images_script():
    from benchbox.report.html import scripts
    from benchbox.report.model import Explorer, Report, Section

    images = {"ids": ["a"], "classes": ["n"], "labels": [0], "groups": ["n"], "thumbs": [None], "contours": [None]}
    rules = [Section(rule, [Explorer(f"explorer-x-{rule}", {"images": dict(images), "runs": []})]) for rule in "ab"]
    other = Section("y", [Explorer("explorer-y", {"images": {**images, "ids": ["b"]}, "runs": []})])
    files = scripts(Report(sections=[*rules, other]))
    assert sum(name.startswith("explorer-images-") for name in files) == 2
    assert {"explorer-x-a.js", "explorer-x-b.js", "explorer-y.js"} <= set(files)


def test_html_tables_keep_the_marks_and_sort_by_the_number_shown():
    import pandas as pd

    from benchbox.report.html import number, table
    from benchbox.report.model import Table

    frame = pd.DataFrame({"AUC": ["0.9000 ± 0.0100", "0.8000 ± 0.0200", "0.5000"]}, index=["A", "B", "chance"])
    frame.index.name = "Method"
    marks = {("A", "AUC"): "best", ("B", "AUC"): "second"}
    shown = table(Table(frame, marks=marks, inseparable={("B", "AUC")}, reference=["chance"]))
    assert '<td data-v="0.9"><strong>0.9000 ± 0.0100</strong></td>' in shown
    assert '<td data-v="0.8"><u>0.8000 ± 0.0200†</u></td>' in shown
    assert shown.index('<tbody class="reference">') < shown.index(">chance<")
    assert [number(s) for s in ("−0.0312 [−0.05, 0.01]", "–", "p < 0.001", "76.92")] == [-0.0312, None, None, 76.92]
