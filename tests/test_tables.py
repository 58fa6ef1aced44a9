import math
import re

import pytest

from benchbox.tables import render

from .conftest import result_record


def record(method, seed, auroc, f1, dataset="oct", status="ok"):
    r = result_record(method, seed, dataset, status, seeds_requested=[0, 1, 2])
    if status == "ok":
        r["metrics"] = {
            "auroc": auroc,
            "auprc": auroc,
            "thresholds": {"test_best_f1": {"f1": f1, "acc": 0.5, "sen": 0.9, "spe": 0.1}},
        }
    return r


RECORDS = [
    record("ae", 0, 0.70, 0.80),
    record("ae", 1, 0.80, 0.90),
    record("ae", 2, 0.90, 0.85),
    record("salad", 0, 0.95, 0.93),
    record("salad", 1, 0.97, 0.94),
    record("salad", 2, None, None, status="failed"),
    record("vae", 0, None, None, status="diverged"),
]


def test_markdown_mean_std_ddof1_and_n():
    text = render(RECORDS)
    ae_row = next(line for line in text.splitlines() if line.startswith("| ae"))
    assert "0.8000 ± 0.1000" in ae_row  # std of .7,.8,.9 with ddof=1 is 0.1
    assert "85.00 ± 5.00" in ae_row  # F1 in %
    salad_row = next(line for line in text.splitlines() if line.startswith("| salad"))
    assert f"0.9600 ± {math.sqrt(2e-4):.4f}" in salad_row
    assert "2/3 (1 failed)" in salad_row
    vae_row = next(line for line in text.splitlines() if line.startswith("| vae"))
    assert "0/3 (1 diverged)" in vae_row and "–" in vae_row
    assert text.index("| ae") < text.index("| salad")  # paper order
    assert "ddof=1" in text


def test_csv_is_numeric():
    import io

    import pandas as pd

    df = pd.read_csv(io.StringIO(render(RECORDS, "csv")))
    ae = df[df.method == "ae"].iloc[0]
    assert ae.auroc_mean == pytest.approx(0.8) and ae.auroc_std == pytest.approx(0.1) and ae.n == 3


def test_std_layout_and_latex():
    assert "0.1000" in render(RECORDS, "std")
    latex = render(RECORDS, "latex")
    # SALAD has the highest mean but 2 of 3 seeds: not bold (nor is AE, the only complete row).
    assert r"\toprule" in latex and r"\textbf{" not in latex


def test_two_datasets_side_by_side():
    text = render(RECORDS + [record("ae", 0, 0.6, 0.7, dataset="chest")])
    header = text.splitlines()[0]
    assert "oct AUC" in header and "chest AUC" in header


def test_one_label_with_two_experiments_is_never_averaged():
    """AE at 1 epoch (seed 0) and at 200 epochs (seed 1) in one folder: two rows, each n = 1,
    named by what differs, not one row 'ae, n = 2'."""
    from benchbox.tables import mixed_warnings

    def run(seed, auroc, epochs, device="cpu"):
        r = result_record(
            "ae", seed, "oct", method_params={"epochs": epochs}, seeds_requested=[0, 1, 2], test_set={"hash": "abc"}
        )
        r.update(
            method_params={"seed": seed, "epochs": epochs, "device": device},  # as it ran
            metrics=record("ae", seed, auroc, auroc + 0.1)["metrics"],
        )
        return r

    short, long = run(0, 0.6, 1), run(1, 0.8, 200)
    text = render([short, long])
    rows = [line for line in text.splitlines() if line.startswith("| ae")]
    assert len(rows) == 2
    assert any(row.startswith("| ae (epochs=1)") and "0.6000" in row for row in rows)
    assert any(row.startswith("| ae (epochs=200)") and "0.8000" in row for row in rows)
    assert mixed_warnings([short, long]) and not mixed_warnings([short])
    # Seeds of one experiment (only the seed and where it ran differ) stay one row.
    other_seed = run(2, 0.7, 1, device="cuda")
    assert sum(line.startswith("| ae") for line in render([short, other_seed]).splitlines()) == 1


def test_another_test_set_is_another_row():
    a, b = record("ae", 0, 0.6, 0.7), record("ae", 1, 0.8, 0.9)
    a["test_set"], b["test_set"] = {"hash": "aaaaaaaaaaaaaaaa"}, {"hash": "bbbbbbbbbbbbbbbb"}
    text = render([a, b])
    assert "ae (test set aaaaaaaaaaaa)" in text and "ae (test set bbbbbbbbbbbb)" in text


def test_latex_bolds_no_degenerate_sensitivity():
    """A threshold that calls every image anomalous has SEN 100%: the best SEN, but not a
    result to put in bold. SEN and SPE are never bolded; AUC and F1 are."""
    complete = RECORDS[:5] + [record("salad", 2, 0.96, 0.935)]
    degenerate = [record("knn", s, 0.55, 0.70) for s in range(3)]
    for r in degenerate:
        r["metrics"]["thresholds"]["test_best_f1"].update(sen=1.0, spe=0.0)
    latex = render(complete + degenerate, "latex")
    assert r"\textbf{100.00" not in latex and r"\textbf{10.00" not in latex
    assert r"\textbf{93.50 $\pm$" in latex  # F1: by its digits
    # AUC: these records hold no scores, so no bootstrap can separate SALAD from the rest: no bold, †.
    assert r"salad & \textbf{" not in latex and r"$^\dagger$" in latex


def test_rows_named_and_ordered_as_given():
    text = render(RECORDS, rows={"salad": "A_F (SALAD)", "ae": "A_I"})
    assert text.index("| A_F (SALAD)") < text.index("| A_I") and "| vae" not in text


def test_a_cell_held_by_another_run_is_a_row_that_says_so():
    records = [
        result_record(
            "ae", 0, metrics={"auroc": 0.6, "thresholds": {}}, test_set={"hash": "h"}, seeds_requested=[0, 1]
        ),
        result_record("ae", 1, status="held", seeds_requested=[0, 1]),
    ]
    assert "1/2 (1 held by another running benchbox)" in render(records)


def test_table_vi_gives_mean_and_std_to_the_same_digit():
    from benchbox.report.numbers import plus_minus

    assert plus_minus(28.07, 22.4, digits=None) == "28 ± 22"
    assert plus_minus(0.2171, 0.023, digits=None) == "0.217 ± 0.023"
    assert plus_minus(5.0, 0.0, digits=None) == "5 ± 0"


def tabulars(tex: str) -> list[tuple[int, list[int]]]:
    """Each tabular of ``tex``: its column count by its spec, and the cell count of each row
    (a ``\\multicolumn{k}`` counts k; an escaped ``\\&`` is no separator)."""
    found = []
    for spec, body in re.findall(r"\\begin\{tabular\}\{([^}]*)\}(.*?)\\end\{tabular\}", tex, re.S):
        rows = []
        for line in body.splitlines():
            if not line.rstrip().endswith(r"\\"):
                continue  # \toprule, \midrule ...
            spans = [int(k) for k in re.findall(r"\\multicolumn\{(\d+)\}", line)]
            cells = len(re.findall(r"(?<!\\)&", line)) + 1
            rows.append(cells - len(spans) + sum(spans))
        found.append((len(re.findall(r"[lrc]", spec)), rows))
    return found


def unescaped(tex: str) -> list[str]:
    """LaTeX's special characters left bare in the cells of ``tex`` (math such as ``$\\pm$`` and
    the escaped forms aside)."""
    text = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))  # comments
    text = re.sub(r"\$(\^?\\[a-zA-Z]+|[<>-])\$", "", text)  # $\pm$, $\Delta$, $<$, $^\dagger$ ...
    text = re.sub(r"\\[_%&#$]", "", text)
    text = re.sub(r"(?<!\\)&", "", text)  # the column separators, counted by tabulars()
    return re.findall(r"[_%#$]", text)


def check_latex(tex: str) -> None:
    parsed = tabulars(tex)
    assert parsed, tex
    for columns, rows in parsed:
        assert rows and all(n == columns for n in rows), (columns, rows, tex)
    assert not unescaped(tex), (unescaped(tex), tex)


def selected(r: dict, rule: str) -> dict:
    r["experiment"]["dimensions"] = {**r["experiment"].get("dimensions", {}), "select": rule}
    return r


def test_latex_parses_and_escapes_for_every_table_kind():
    special = [record("ssim_ae", s, 0.6 + s / 10, 0.7, dataset="d_1%&#$") for s in range(2)]
    special += [record("salad[feature_constraint=none]", s, 0.8, 0.7, dataset="d_1%&#$") for s in range(2)]
    two_rules = RECORDS + [selected(record("ae", s, 0.75, 0.8), "val") for s in range(3)]
    pixel = [dict(r, pixel_metrics={"pixel_auroc": 0.9, "aupro": 0.5, "best_dice": 0.3}) for r in RECORDS[:5]]
    for records in (RECORDS, special, RECORDS + special, two_rules):
        check_latex(render(records, "latex"))
    check_latex(render(pixel, "latex", level="pixel"))
    # one tabular per checkpoint rule, each with its rule as a full-width row
    parsed = tabulars(render(two_rules, "latex"))
    assert len(parsed) == 2 and all(rows[1] == columns for columns, rows in parsed)
    assert r"\multicolumn{10}{l}{\emph{Checkpoint: the last epoch}}" in render(two_rules, "latex")
    assert r"ssim\_ae" in render(special, "latex") and r"\multicolumn{9}{c}{d\_1\%\&\#\$}" in render(
        RECORDS + special, "latex"
    )
