"""The report's comparison and statistics tables, as data frames of display strings: the score
per class (Table VI), AUROC per group, each method against the best and against chance (paired
bootstrap, image and pixel level), and how a checkpoint rule chose its epochs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..selection import SELECTION_METRICS, curve_value
from ..significance import against_chance, paired_bootstrap, paired_bootstrap_pixel
from ..tables import ordered
from .numbers import over_seeds, plus_minus


def per_class_table(records: list[dict], rank: dict[str, int]) -> pd.DataFrame:
    """Table VI: mean ± std of the anomaly score per class (images pooled over seeds)."""
    rows, classes = {}, {}
    for r in records:
        s = r["scores"]
        for cls, label, score in zip(s["classes"], s["labels"], s["scores"]):
            rows.setdefault(r["label"], defaultdict(list))[cls].append(score)
            classes[cls] = label
    ordered_classes = sorted(classes, key=lambda c: (classes[c], c))  # the normal class first
    table = pd.DataFrame(index=pd.Index(ordered(rows, rank), name="Method"))
    for cls in ordered_classes:
        table[cls] = [
            plus_minus(np.mean(rows[m][cls]), np.std(rows[m][cls], ddof=1), digits=None)
            if len(rows[m][cls]) > 1
            else "–"
            for m in table.index
        ]
    return table


def auroc_per_group_table(
    records: list[dict], subgroup=None, side: str = "abnormal", rank: dict[str, int] | None = None
) -> pd.DataFrame | None:
    """AUROC of one group of test images against the whole other class, mean ± std over seeds.

    ``side="abnormal"``: the normal test images against each abnormal group alone;
    ``side="normal"``: each normal group against all abnormal test images. A group is a class,
    split further where ``subgroup(image_id)`` gives a finer label (``Dataset.subgroup``). None
    where that side has a single group (it would repeat Table I)."""
    from sklearn.metrics import roc_auc_score

    grouped = 1 if side == "abnormal" else 0
    rows: dict[str, dict[str, list[float]]] = {}
    sizes: dict[str, int] = {}
    for r in records:
        s = r["scores"]
        labels, scores = np.asarray(s["labels"]), np.asarray(s["scores"])
        finer = [subgroup(i) if subgroup else None for i in s["ids"]]
        groups = np.asarray([c if f is None else f"{c}, {f}" for c, f in zip(s["classes"], finer)])
        for group in sorted(set(groups[labels == grouped])):
            chosen = (labels != grouped) | (groups == group)
            rows.setdefault(r["label"], defaultdict(list))[group].append(roc_auc_score(labels[chosen], scores[chosen]))
            sizes[group] = int((groups == group).sum())
    if len(sizes) < 2:
        return None
    table = pd.DataFrame(index=pd.Index(ordered(rows, rank or {}), name="Method"))
    for group in sorted(sizes):
        table[f"{group} (n={sizes[group]})"] = [over_seeds(rows[m][group]) for m in table.index]
    return table


def _interval(result: dict) -> str:
    return f"{result['delta']:.4f} [{result['ci_low']:.4f}, {result['ci_high']:.4f}]"


def _same_test_set(a: dict, b: dict) -> bool:
    return a["test_set"]["hash"] == b["test_set"]["hash"] and a["scores"]["ids"] == b["scores"]["ids"]


def against_best(
    runs: dict[str, dict[int, tuple[dict, object]]],
    value: Callable[[dict], float],
    compare: Callable[[list, list], dict],
    delta: str,
    rank: dict[str, int],
    chance: Callable[[list], dict] | None = None,
) -> tuple[str, pd.DataFrame]:
    """Each method against the one with the best mean ``value`` by ``compare`` (a paired
    bootstrap) on the seeds both ran on the same test set, and, with ``chance``, against
    chance. ``runs``: label -> seed -> (record, what ``compare`` and ``chance`` take)."""
    means = {label: np.mean([value(r) for r, _ in seeds.values()]) for label, seeds in runs.items()}
    best = max(means, key=means.get)
    rows = []
    for label in ordered(runs, rank):
        mine = runs[label]
        row = {"Method": label}
        if chance is not None:
            row["AUC − 0.5 [95% CI]"] = _interval(chance([mine[s][1] for s in sorted(mine)]))
        if label == best:
            rows.append({**row, delta: "(best)", "95% CI": "–", "p": "–", "seeds": len(mine)})
            continue
        seeds = [s for s in sorted(set(runs[best]) & set(mine)) if _same_test_set(runs[best][s][0], mine[s][0])]
        if not seeds:
            rows.append({**row, delta: "–", "95% CI": "no shared seed on the same test set", "p": "–", "seeds": 0})
            continue
        result = compare([runs[best][s][1] for s in seeds], [mine[s][1] for s in seeds])
        p = f"{result['p_value']:.3g}" if result["p_value"] > 0 else f"< {1 / result['n_boot']:.1g}"
        rows.append(
            {
                **row,
                delta: f"{result['delta']:.4f}",
                "95% CI": f"[{result['ci_low']:.4f}, {result['ci_high']:.4f}]",
                "p": p,
                "seeds": result["n_seeds"],
            }
        )
    return best, pd.DataFrame(rows)


def significance_table(records: list[dict], rank: dict[str, int]) -> tuple[str, pd.DataFrame]:
    """AUROC of each method against chance, and against the best one's."""
    runs = defaultdict(dict)
    for r in records:
        runs[r["label"]][r["seed"]] = (r, (r["scores"]["labels"], r["scores"]["scores"]))

    def compare(best, other):
        return paired_bootstrap([labels for labels, _ in best], [s for _, s in best], [s for _, s in other])

    def chance(samples):
        return against_chance([labels for labels, _ in samples], [s for _, s in samples])

    return against_best(runs, lambda r: r["metrics"]["auroc"], compare, "ΔAUC (best − method)", rank, chance)


def pixel_significance_table(records: list[dict], store, rank: dict[str, int]) -> tuple[str, pd.DataFrame] | None:
    """Pixel AUROC of each method against the best one's, by the two-level bootstrap over test
    images and seeds (:func:`benchbox.significance.paired_bootstrap_pixel`), from the per-image
    histograms saved with each run."""
    runs = defaultdict(dict)
    for r in records:
        artifacts = store.read_artifacts(r["_path"]) if r.get("pixel_metrics") else None
        if artifacts and "pixel_hist_positive" in artifacts:
            runs[r["label"]][r["seed"]] = (r, (artifacts["pixel_hist_positive"], artifacts["pixel_hist_negative"]))
    if len(runs) < 2:
        return None
    value = lambda r: r["pixel_metrics"]["pixel_auroc"]  # noqa: E731
    return against_best(runs, value, paired_bootstrap_pixel, "ΔP-AUROC (best − method)", rank)


def selection_table(records: list[dict], rule: str, rank: dict[str, int]) -> tuple[str, pd.DataFrame]:
    """Per method: the epochs the rule chose, the selection split's AUROC there and at the last
    epoch, and the test AUROC of the chosen checkpoint (the number in Table I); and the line
    that names the selection split."""
    where = "test" if rule == "test" else "validation"
    rows, sources = [], set()
    by_label = defaultdict(list)
    for r in records:
        if r.get("selection"):
            by_label[r["label"]].append(r)
    metric = " / ".join(
        sorted({SELECTION_METRICS[r["selection"].get("metric", "auroc")] for r in records if r.get("selection")})
    )
    for label in ordered(by_label, rank):
        runs = sorted(by_label[label], key=lambda r: r["seed"])
        chosen = [r["selection"]["chosen_auroc"] for r in runs]
        last = [
            curve_value(r["selection"], r["selection"]["curve"][-1]) if r["selection"]["curve"] else None for r in runs
        ]
        first = runs[0]["selection"]
        if first.get("split"):
            sources.add(first["split"])
        rows.append(
            {
                "Method": label,
                "seeds": len(runs),
                f"{where} split (normal / anomalous)": f"{first['n_normal']} / {first['n_anomalous']}",
                **({"trained on (images)": str(first["train_n"])} if "train_n" in first else {}),
                "every": first["every"],
                "chosen epoch, per seed": ", ".join(str(r["selection"]["chosen_epoch"]) for r in runs)
                + f" of {runs[0]['selection']['curve'][-1]['epoch'] if first['curve'] else '–'}",
                f"{where} {metric}, chosen": over_seeds(chosen),
                f"{where} {metric}, last epoch": over_seeds(last),
                "chosen − last": over_seeds([c - x for c, x in zip(chosen, last) if c is not None and x is not None]),
                "test AUROC of the chosen checkpoint": over_seeds([r["metrics"]["auroc"] for r in runs]),
            }
        )
    intro = f"Selection split: {'; '.join(sorted(sources))}." if sources else ""
    return intro, pd.DataFrame(rows)
