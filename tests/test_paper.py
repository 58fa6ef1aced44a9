"""Tables a paper can use as they are (issue 42): marks on hand-checked cases, LaTeX that
compiles, the .bib of every method and dataset, ranks across datasets against scipy by hand,
published rows set apart, seed-independent methods run once."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from scipy import stats

from benchbox.catalogue import Catalogue, bib_keys
from benchbox.plugins import Plugins
from benchbox.published import PublishedTable
from benchbox.ranks import cliques, nemenyi_cd, rank_methods
from benchbox.tables import CHANCE, View, main_tables, render

from .conftest import result_record, run_cli
from .test_tables import check_latex

N = 200  # test images: half normal


def scored(method, seed, dataset, separation, noise_seed=None):
    """A finished record whose scores separate the classes by ``separation`` (0: chance)."""
    rng = np.random.default_rng(noise_seed if noise_seed is not None else hash((method, seed, dataset)) % 2**32)
    labels = np.repeat([0, 1], N // 2)
    scores = rng.normal(size=N) + separation * labels
    from sklearn.metrics import roc_auc_score

    auroc = float(roc_auc_score(labels, scores))
    r = result_record(method, seed, dataset, seeds_requested=[0, 1, 2])
    r["metrics"] = {
        "auroc": auroc,
        "auprc": auroc,
        "thresholds": {"test_best_f1": {"f1": 0.7 + separation / 10, "acc": 0.6, "sen": 0.9, "spe": 0.3}},
    }
    r["scores"] = {
        "labels": labels.tolist(),
        "scores": scores.tolist(),
        "ids": [f"{i}.png" for i in range(N)],
        "classes": ["NORMAL" if x == 0 else "ABNORMAL" for x in labels],
    }
    r["test_set"] = {"hash": f"{dataset}-test", "n": N}
    return r


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.from_plugins(Plugins(load_entry_points=False))


@pytest.fixture(scope="module")
def two_datasets():
    """Three methods on two datasets: on oct SSIM-AE is far ahead (separable), VAE second; on
    chest_xray SSIM-AE and VAE are nearly equal (not separable), AE at chance."""
    sep = {"oct": {"ssim_ae": 3.0, "vae": 1.0, "ae": 0.0}, "chest_xray": {"ssim_ae": 1.05, "vae": 1.0, "ae": 0.0}}
    return [scored(m, s, d, sep[d][m]) for d in sep for m in sep[d] for s in range(3)]


def test_marks_on_a_hand_checked_case(two_datasets, catalogue):
    (table,) = main_tables(two_datasets, view=View(catalogue))
    assert sorted(table.frame.index[:3]) == ["AE", "SSIM-AE", "VAE"]  # display names
    oct_auc, chest_auc = "OCT2017 AUC", "Chest X-ray AUC"
    # OCT2017: SSIM-AE separable from both: bold; VAE second: underlined.
    assert table.marks[("SSIM-AE", oct_auc)] == "best" and table.marks[("VAE", oct_auc)] == "second"
    assert ("AE", oct_auc) not in table.marks and not any(col == oct_auc for _, col in table.inseparable)
    # Chest X-ray: SSIM-AE's lead over VAE is noise: no bold, no underline; VAE marked †.
    assert not any(col == chest_auc for _, col in table.marks)
    marked = {row for row, col in table.inseparable if col == chest_auc}
    assert len(marked & {"VAE", "SSIM-AE"}) == 1 and "AE" not in marked  # the one not shown highest
    # F1 has no bootstrap: marked by its digits (SSIM-AE 100.00, VAE 80.00 on OCT2017).
    assert table.marks[("SSIM-AE", "OCT2017 F1")] == "best" and table.marks[("VAE", "OCT2017 F1")] == "second"
    assert ("SSIM-AE", "OCT2017 SEN") not in table.marks  # a trade-off column is never marked
    assert CHANCE in table.frame.index and CHANCE in table.reference
    assert table.frame.loc[CHANCE, "OCT2017 F1"] == "66.67"  # 2P / (2P + N) with P = N
    markdown = render(two_datasets, view=View(catalogue))
    ssim = next(line for line in markdown.splitlines() if line.startswith("| SSIM-AE"))
    assert "**" in ssim and "<u>" in markdown and "†" in markdown


def test_rows_missing_seeds_and_ties_by_shown_digits(catalogue):
    records = [scored("ae", s, "oct", 0.0) for s in range(3)] + [scored("vae", s, "oct", 1.0) for s in range(3)]
    records += [scored("ssim_ae", s, "oct", 3.0) for s in range(2)]  # 2 of 3 seeds: never marked
    (table,) = main_tables(records, view=View(catalogue))
    assert not any(row == "SSIM-AE" for row, _ in table.marks)
    assert table.marks[("VAE", "F1")] == "best" and table.marks[("AE", "F1")] == "second"
    tied = [scored("ae", s, "oct", 1.0, noise_seed=s) for s in range(3)]
    tied += [scored("vae", s, "oct", 1.0, noise_seed=s) for s in range(3)]  # identical scores: a tie
    (table,) = main_tables(tied, view=View(catalogue))
    assert table.frame.loc["AE", "AUC"] == table.frame.loc["VAE", "AUC"]
    assert not any(col == "AUC" for _, col in table.marks)  # tied best: not separable, no bold
    assert table.marks[("AE", "F1")] == table.marks[("VAE", "F1")] == "best"


def test_latex_as_a_paper_sets_it(two_datasets, catalogue):
    tex = render(two_datasets, "latex", view=View(catalogue))
    check_latex(tex)
    assert tex.startswith("\\begin{table}[t]") and "\\caption{" in tex and "\\label{tab:chest-xray-oct-image}" in tex
    assert r"\multicolumn{9}{c}{OCT2017~\citep{kermany2018}}" in tex and r"\cmidrule(lr){2-10}" in tex
    assert r"SSIM-AE~\citep{bergmann2019ssim}" in tex and r"VAE~\citep{kingma2014vae}" in tex
    assert r"\textbf{" in tex and r"\underline{" in tex and r"$^\dagger$" in tex and r"\pm" in tex
    assert "\\midrule\n" + CHANCE in tex  # the reference row below its own rule


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="no TeX engine (pdflatex) on this machine")
def test_the_latex_table_compiles(tmp_path, two_datasets, catalogue):
    records = [dict(r, label=r["label"]) for r in two_datasets]
    (tmp_path / "references.bib").write_text(catalogue.bibliography(records))
    tex = render(two_datasets, "latex", view=View(catalogue))
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\\usepackage{booktabs}\\usepackage{natbib}\\usepackage[utf8]{inputenc}"
        "\\usepackage{textcomp}\n\\begin{document}\n"
        + tex
        + "\n\\bibliographystyle{plainnat}\\bibliography{references}\n\\end{document}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_the_bib_holds_every_method_and_dataset_once(two_datasets, catalogue):
    bib = catalogue.bibliography(two_datasets)
    assert sorted(bib_keys(bib)) == ["bergmann2019ssim", "kermany2018", "kingma2014vae", "zhou2017robust"]
    variant = Catalogue.from_plugins(Plugins(load_entry_points=False), ["cutpaste[augment=anatpaste]"])
    records = [result_record("cutpaste[augment=anatpaste]", 0, "lgg_mri")]
    assert bib_keys(variant.bibliography(records)) == ["sato2023anatpaste", "li2021cutpaste", "buda2019lgg"]


def test_every_builtin_method_and_dataset_has_a_title_and_parseable_references():
    plugins = Plugins(load_entry_points=False)
    floors = {"pca", "knn", "intensity"}  # benchbox's own baselines: nothing to cite
    for registry, uncited in ((plugins.methods, floors), (plugins.datasets, {"synthetic", "folder"})):
        for name in registry.names():
            cls = registry.get(name)
            keys = bib_keys(cls.citation)
            assert name in uncited or keys, f"{name} has no reference"
            assert cls.citation.count("@") == len(keys)  # every entry has a key


def test_ranks_match_scipy_by_hand():
    means = {  # dataset -> method -> AUROC
        "d1": {"ae": 0.6, "vae": 0.7, "ssim_ae": 0.9, "salad": 0.8},
        "d2": {"ae": 0.5, "vae": 0.9, "ssim_ae": 0.8, "salad": 0.8},
        "d3": {"ae": 0.7, "vae": 0.6, "ssim_ae": 0.95, "salad": 0.9},
    }
    records = []
    for d, row in means.items():
        for m, value in row.items():
            r = result_record(m, 0, d, seeds_requested=[0])
            r["metrics"] = {"auroc": value, "auprc": value, "thresholds": {}}
            records.append(r)
    result = rank_methods(records)
    methods = ["ae", "vae", "ssim_ae", "salad"]
    by_hand = np.array([stats.rankdata([-means[d][m] for m in methods]) for d in means])  # 1 = best, ties averaged
    expected = dict(zip(methods, by_hand.mean(0)))
    assert result.average.to_dict() == pytest.approx(expected)
    assert list(result.average.index) == sorted(methods, key=expected.get)
    chi2, p = stats.friedmanchisquare(*[[means[d][m] for d in means] for m in methods])
    assert result.friedman == pytest.approx((chi2, p))
    assert nemenyi_cd(4, 3) == pytest.approx(2.569 * np.sqrt(4 * 5 / (6 * 3)), abs=2e-3)  # Demšar's q for k = 4
    assert cliques(result.average, result.cd) == [list(result.average.index)]  # 3 datasets: none apart


def test_published_rows_are_set_apart_never_marked_or_ranked(two_datasets, catalogue):
    table = PublishedTable(
        "t", "Paper X", "Paper X, Table 1", "their protocol", "x2024", {"OCT": "oct"},
        [("Great", "OCT", "auroc", 0.999, 0.001), ("Great", "OCT", "f1", 0.99, None)],
    )  # fmt: skip
    rows = table.rows_for({"oct": [r for r in two_datasets if r["dataset"] == "oct"]})
    assert rows and all("other protocol" in r.caveat for r in rows)
    (shown,) = main_tables(two_datasets, view=View(catalogue, published=rows))
    label = "Great (Paper X)"
    assert shown.frame.loc[label, "OCT2017 AUC"] == "0.9990 ± 0.0010" and label in shown.reference
    assert not any(row == label for row, _ in shown.marks) and shown.cite[label] == "x2024"
    assert shown.marks[("SSIM-AE", "OCT2017 AUC")] == "best"  # the published 0.999 is not the best
    assert shown.frame.loc[label, "Chest X-ray AUC"] == "–"
    assert label not in rank_methods(two_datasets).average.index


def test_a_published_protocol_that_matches_is_said_so():
    table = PublishedTable(
        "t", "P", "P, Table 1", "256x256", "p", {"X": "chest_xray"}, [("M", "X", "auroc", 0.8, None)],
        same_protocol={"chest_xray": {"image_size": 32}},
    )  # fmt: skip
    same = table.rows_for({"chest_xray": [result_record("ae", 0, "chest_xray", image_size=32)]})
    other = table.rows_for({"chest_xray": [result_record("ae", 0, "chest_xray", image_size=64)]})
    assert "same protocol" in same[0].caveat and "other protocol" in other[0].caveat


def test_seed_independent_methods_run_once_and_show_no_std(tmp_path, catalogue):
    from benchbox.plan import plan

    cells = plan(Plugins(load_entry_points=False), ["pca", "ae"], ["synthetic"], [0, 1, 2], epochs=1)
    assert sorted((c.experiment.method, c.seed) for c in cells) == [("ae", 0), ("ae", 1), ("ae", 2), ("pca", 0)]
    records = [scored("pca", s, "oct", 1.0, noise_seed=7) for s in range(3)]  # made before: three equal runs
    records += [scored("ae", s, "oct", 0.5) for s in range(3)]
    (table,) = main_tables(records, view=View(catalogue))
    assert (
        "±" not in table.frame.loc["PCA (pixels)", "AUC"]
        and table.frame.loc["PCA (pixels)", "n"] == "1 (seed-independent)"
    )


def write_results(root, records):
    for r in records:
        folder = root / r["dataset"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{r['method']}__seed{r['seed']}__{r['key'][:12]}.json").write_text(json.dumps(r))


def test_cli_table_cite_rank_and_published(tmp_path, two_datasets):
    write_results(tmp_path / "res", two_datasets)
    res = str(tmp_path / "res")
    tex = run_cli("table", "--results-dir", res, "--format", "latex", "--dataset", "oct", "--methods", "ssim_ae,ae",
                  "--metrics", "auroc,f1", "--published", "salad")  # fmt: skip
    assert tex.returncode == 0, tex.stderr
    body = tex.stdout
    runs = body.split("\\midrule")[1]  # the rows of the runs, above the reference rows
    assert runs.index("SSIM-AE") < runs.index("\nAE~") and "VAE" not in runs and "Chest" not in body
    assert "Auto-encoder (SALAD paper)" in body and "other protocol" in body
    header = next(line for line in body.splitlines() if line.startswith("Method &"))
    assert header == r"Method & AUC & F1 & n \\"  # only the chosen metrics
    bib = run_cli("cite", "--results-dir", res)
    assert sorted(bib_keys(bib.stdout)) == ["bergmann2019ssim", "kermany2018", "kingma2014vae", "zhou2017robust"]
    ranked = run_cli("rank", "--results-dir", res, "--out", str(tmp_path / "cd"))
    assert ranked.returncode == 0 and "average rank" in ranked.stdout and (tmp_path / "cd.png").is_file()
    wrong = run_cli("table", "--results-dir", res, "--metrics", "auroc,nope")
    assert wrong.returncode == 2 and "--metrics" in wrong.stderr and "nope" in wrong.stderr
    unknown = run_cli("table", "--results-dir", res, "--published", "nosuch")
    assert unknown.returncode == 2 and "nosuch" in unknown.stderr and "bmad" in unknown.stderr
