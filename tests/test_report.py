"""benchbox report on a results directory from a real (small) run on the embedded default."""

import filecmp
import json
import os

import pandas as pd
import pytest

from .conftest import run_cli

SMALL = [
    "--param",
    "synthetic.n_train=64",
    "--param",
    "synthetic.n_test=48",
    "--epochs",
    "2",
    "--param",
    "salad.width=8",
    "--param",
    "salad.latent_dim=16",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    run = run_cli(
        "run",
        "--methods",
        "ae,salad,salad[feature_constraint=none,ssl=none],salad[ssl=none]",
        "--seeds",
        "0,1",
        "--results-dir",
        str(root),
        *SMALL,
        env={**os.environ, "BENCHBOX_NO_ENTRY_POINTS": "1"},
    )
    assert run.returncode == 0, run.stderr
    return root


TSNE = ["--tsne", "salad[ssl=none]", "salad[feature_constraint=none,ssl=none]"]


@pytest.fixture(scope="module")
def report(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    done = run_cli("report", "--results-dir", str(results), "--out", str(out), *TSNE)
    assert done.returncode == 0, done.stderr
    return out


def test_significance_table_gives_every_method_against_chance(results, report):
    table = (report / "synthetic-significance.md").read_text()
    labels = ["ae", "salad", "salad[feature_constraint=none,ssl=none]", "salad[ssl=none]"]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert sorted(rows) == sorted(labels) and "AUC − 0.5 [95% CI]" in table
    assert sum("(best)" in line for line in rows.values()) == 1
    aurocs = [json.loads(p.read_text())["metrics"]["auroc"] for p in (results / "synthetic").glob("ae__*.json")]
    assert f"| {sum(aurocs) / 2 - 0.5:.4f} [" in rows["ae"]


def test_every_file_and_tables_match_the_json(results, report):
    out = report
    for name in [
        "index.md",
        "synthetic-table1.md",
        "synthetic-table1.csv",
        "synthetic-table1.tex",
        "synthetic-table2.md",
        "synthetic-table6.md",
        "synthetic-auroc-per-group.md",
        "synthetic-significance.md",
        "synthetic-table3.md",
        "synthetic-roc.png",
        "synthetic-roc.pdf",
        "synthetic-recon-ae.png",
        "synthetic-recon-salad.pdf",
        "synthetic-tsne.png",
    ]:
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "synthetic-table1.csv").set_index("method")
    aurocs = [json.loads(p.read_text())["metrics"]["auroc"] for p in (results / "synthetic").glob("ae__*.json")]
    assert table.loc["ae", "auroc_mean"] == pytest.approx(sum(aurocs) / 2, abs=1e-6)
    assert table.loc["ae", "n"] == 2
    index = (out / "index.md").read_text()
    assert "file-list hash" in index and "Image size 32" in index and "![ROC curves" in index
    table3 = (out / "synthetic-table3.md").read_text()  # the paper's row names, in its order
    assert table3.index("L_str (salad[feature_constraint=none,ssl=none])") < table3.index(
        "L_str + L_ct (salad[ssl=none])"
    )


def test_every_table_of_the_report_is_written_as_latex_that_parses(report):
    from .test_tables import check_latex

    tex = {p.stem: p.read_text() for p in report.glob("*.tex")}
    md = {p.stem for p in report.glob("*.md")} - {"index"}
    assert set(tex) == md and {"synthetic-table1", "synthetic-significance", "synthetic-table6"} <= set(tex)
    for text in tex.values():
        check_latex(text)
    assert r"$\pm$" in tex["synthetic-table1"] and r"\textbf{" in tex["synthetic-table1"]


def test_report_is_regenerable_byte_for_byte(results, report, tmp_path):
    assert run_cli("report", "--results-dir", str(results), "--out", str(tmp_path), *TSNE).returncode == 0
    files = sorted(p.name for p in report.iterdir())
    assert files == sorted(p.name for p in tmp_path.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(report, tmp_path, files, shallow=False)
    assert not mismatch and not errors


def test_missing_pieces_are_stated_not_errors(tmp_path):
    from benchbox.report import build

    results = tmp_path / "r"
    (results / "synthetic").mkdir(parents=True)
    (results / "synthetic" / "x__seed0__abc.json").write_text("{broken")
    build(results, tmp_path / "out", tsne=("salad", "ae"))
    index = (tmp_path / "out" / "index.md").read_text()
    assert "not a readable result file" in index and "No results found" in index


def test_figure_names_keep_a_label_with_a_dot(tmp_path):
    """salad[center_lr=0.05] and salad[center_lr=0.5] must not both become '…center_lr=0.png'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchbox.report.figures import save

    paths = save(plt.figure(), tmp_path / "chest_xray-recon-salad_center_lr=0.05")
    assert [p.name for p in paths] == [
        "chest_xray-recon-salad_center_lr=0.05.png",
        "chest_xray-recon-salad_center_lr=0.05.pdf",
    ]
    assert all(p.exists() for p in paths)


def test_auroc_per_abnormal_group_scores_each_group_against_the_normals():
    from benchbox.report.statistics import auroc_per_group_table

    def record(seed, scores):
        return {
            "label": "m",
            "seed": seed,
            "scores": {
                "classes": ["NORMAL", "NORMAL", "CNV", "CNV", "DME"],
                "labels": [0, 0, 1, 1, 1],
                "ids": ["n1", "n2", "c1", "c2", "d1"],
                "scores": scores,
            },
        }

    # seed 0: CNV above both normals (1.0), DME between them (0.5); seed 1: CNV 0.5, DME 1.0
    records = [record(0, [0.1, 0.3, 0.5, 0.6, 0.2]), record(1, [0.1, 0.3, 0.2, 0.25, 0.9])]
    table = auroc_per_group_table(records).to_markdown()
    assert "CNV (n=2)" in table and "DME (n=1)" in table
    assert table.count("0.7500 ± 0.3536") == 2  # mean and std over the two seeds, per class
    # a finer label splits a class: c1 and c2 each above both normals in seed 0, one in seed 1
    finer = auroc_per_group_table(records, lambda image_id: {"c1": "a", "c2": "b"}.get(image_id)).to_markdown()
    assert "CNV, a (n=1)" in finer and "CNV, b (n=1)" in finer and "| CNV (n=2)" not in finer
    assert finer.count("0.7500 ± 0.3536") == 3
    one = {
        "label": "m",
        "seed": 0,
        "scores": {"classes": ["N", "P"], "labels": [0, 1], "ids": ["a", "b"], "scores": [0, 1]},
    }
    assert auroc_per_group_table([one]) is None  # it would only repeat Table I
    # the other side: each normal group against all abnormal images (seed 0: n1 below all three
    # abnormal images, n2 above one of them; seed 1: n1 below all, n2 above two)
    assert auroc_per_group_table(records, side="normal") is None  # one normal group: Table I again
    normal = auroc_per_group_table(records, lambda image_id: {"n1": "x", "n2": "y"}.get(image_id), side="normal")
    normal = normal.to_markdown()
    assert "NORMAL, x (n=1)" in normal and "NORMAL, y (n=1)" in normal and "CNV" not in normal
    assert "1.0000 ± 0.0000" in normal and "0.5000 ± 0.2357" in normal


def test_chest_xray_names_the_cause_of_pneumonia():
    from benchbox.datasets.folder import ChestXray

    assert ChestXray.subgroup("test/PNEUMONIA/person1_bacteria_1.jpeg") == "bacteria"
    assert ChestXray.subgroup("test/PNEUMONIA/person1620_virus_2810.jpeg") == "virus"
    assert ChestXray.subgroup("test/NORMAL/IM-0001-0001.jpeg") == "IM"
    assert ChestXray.subgroup("test/NORMAL/NORMAL2-IM-0007-0001.jpeg") == "NORMAL2"
    assert ChestXray.subgroup("test/NORMAL/other.jpeg") is None


def test_the_description_says_which_rows_used_which_image_size():
    from benchbox.report.compute import describe

    from .conftest import result_record

    common = {"test_set": {"n": 4, "hash": "ab" * 8}, "versions": {"benchbox": "0", "torch": "0"}, "device": "cpu"}
    records = [result_record(label, seed, image_size=size, **common)
               for label, seed, size in (("ae", 0, 64), ("padim", 0, 224), ("ae", 1, 64))]  # fmt: skip
    for record in records:  # the parameters as the method ran with them
        record["method_params"] = {"precision": "fp32"} if record["label"] == "ae" else {}
    text = describe(records, {})
    assert "Image size 64 (ae); 224 (padim)" in text and "seeds 0, 1" in text
