"""Methods ranked across datasets, the convention of multi-dataset benchmarks (Demšar, "Statistical
Comparisons of Classifiers over Multiple Data Sets", JMLR 7, 2006): on each dataset the methods
are ranked by their mean metric over seeds (1 = best, ties share the average rank); the average
ranks are compared by the Friedman test and, after it, by the Nemenyi critical difference (CD):
two methods whose average ranks differ by less than the CD are not shown to differ.

What it assumes: the datasets are independent blocks, and each method ran on every one of them
under one checkpoint rule (methods missing a dataset are left out, and named). What a reader
can conclude: with N datasets and k methods, only differences in average rank above the CD are
supported; with few datasets (N < 5 or so) the CD is wide and the test has little power — an
ordering is then a description, not a finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .catalogue import Catalogue
from .tables import aggregate, by_rule, dataset_names, frame


@dataclass
class Ranks:
    """``ranks``: datasets × methods (1 = best); ``average``: each method's average rank, best
    first; ``friedman``: (chi², p) or None where k < 3 or N < 2; ``cd``: the Nemenyi critical
    difference at ``alpha``; ``left_out``: methods not run on every dataset."""

    metric: str
    values: pd.DataFrame
    ranks: pd.DataFrame
    average: pd.Series
    friedman: tuple[float, float] | None
    cd: float | None
    alpha: float = 0.05
    left_out: list[str] = field(default_factory=list)

    @property
    def n_datasets(self) -> int:
        return len(self.ranks)

    def table(self) -> pd.DataFrame:
        """Per method: its rank on each dataset and the average, best first."""
        shown = self.ranks.T.loc[self.average.index].map(lambda r: f"{r:g}")
        shown.insert(len(shown.columns), "average rank", self.average.map(lambda r: f"{r:.2f}"))
        shown.index.name = "Method"
        return shown

    def summary(self) -> str:
        k, n = len(self.average), self.n_datasets
        text = f"{k} methods ranked by {self.metric} (mean over seeds) on {n} datasets."
        if self.friedman is not None:
            chi2, p = self.friedman
            text += f" Friedman χ² = {chi2:.2f}, p = {p:.3g}"
            text += " (the methods' ranks differ)." if p < self.alpha else " (no difference shown among the ranks)."
        else:
            text += " Too few methods or datasets for the Friedman test (k ≥ 3 and N ≥ 2)."
        if self.cd is not None:
            text += (
                f" Nemenyi critical difference at α = {self.alpha}: {self.cd:.2f} average ranks; methods joined "
                f"by a bar in the diagram are not shown to differ."
            )
        if n < 5:
            text += f" With {n} datasets the test has little power: the order is a description, not a finding."
        if self.left_out:
            text += f" Left out (not run on every dataset): {', '.join(self.left_out)}."
        return text


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Demšar's critical difference: q_α · sqrt(k(k+1) / (6N)), q_α the studentized range
    quantile over sqrt(2)."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def rank_methods(records: list[dict], metric: str = "auroc", rule: str = "last", catalogue=None) -> Ranks:
    """Ranks of the methods of ``records`` (one checkpoint ``rule``) over their datasets; the
    ``catalogue`` (:class:`benchbox.catalogue.Catalogue`) names them and says which methods are
    seed-independent (default: ids as they are)."""
    catalogue = catalogue or Catalogue()
    part = by_rule(records).get(rule, [])
    agg = aggregate(frame(part, seed_independent=catalogue.seed_independent))
    if agg.empty:
        raise ValueError(f"no finished results under checkpoint rule {rule!r}")
    values = agg.pivot_table(index="dataset", columns="method", values=f"{metric}_mean", aggfunc="first")
    complete = values.columns[values.notna().all()]
    left_out = sorted(set(values.columns) - set(complete))
    values = values[complete]
    plugins = {name: r["dataset"] for r, name in zip(part, dataset_names(part))}
    values = values.rename(
        columns=catalogue.method_title, index=lambda name: catalogue.dataset_title(plugins.get(name, name), name)
    )
    ranks = values.rank(axis=1, ascending=False, method="average")
    average = ranks.mean().sort_values(kind="stable")
    k, n = values.shape[1], values.shape[0]
    friedman = None
    if k >= 3 and n >= 2:
        result = stats.friedmanchisquare(*[values[c].to_numpy() for c in values.columns])
        friedman = (float(result.statistic), float(result.pvalue))
    cd = nemenyi_cd(k, n) if k >= 2 and n >= 2 else None
    return Ranks(metric, values, ranks, average, friedman, cd, left_out=left_out)


def cliques(average: pd.Series, cd: float) -> list[list[str]]:
    """Maximal runs of methods (in rank order) whose average ranks lie within ``cd`` of each
    other: the bars of the diagram."""
    names, values = list(average.index), list(average.to_numpy())
    found = []
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and values[j + 1] - values[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in found):
            found.append((i, j))
    return [names[a : b + 1] for a, b in found]


def cd_diagram(result: Ranks, base: Path) -> list[Path]:
    """Demšar's critical-difference diagram of ``result``: the rank axis, each method at its
    average rank, the CD as a bar, methods not shown to differ joined; PNG and PDF."""
    from .report.figures import _matplotlib, save  # Agg, the report's fonts; byte-identical files

    plt = _matplotlib()
    average = result.average
    k = len(average)
    height = 1.2 + 0.3 * math.ceil(k / 2)
    fig, ax = plt.subplots(figsize=(7, height))
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-0.3 * math.ceil(k / 2) - 0.6, 1.0)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", linewidth=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.08, color="black", linewidth=1)
        ax.text(r, 0.15, str(r), ha="center", va="bottom", fontsize=8)
    half = math.ceil(k / 2)
    for i, (name, rank) in enumerate(average.items()):
        left = i < half
        y = -0.25 - 0.3 * (i if left else k - 1 - i)
        x_text = 0.6 if left else k + 0.4
        ax.plot([rank, rank, x_text], [0, y, y], color="black", linewidth=0.8)
        ax.text(x_text, y, f"{name} ({rank:.2f})", ha="right" if left else "left", va="center", fontsize=8)
    if result.cd is not None:
        ax.hlines(0.6, 1, 1 + result.cd, color="black", linewidth=1.5)
        ax.text(1 + result.cd / 2, 0.66, f"CD = {result.cd:.2f}", ha="center", va="bottom", fontsize=8)
        for i, group in enumerate(cliques(average, result.cd)):
            y = -0.1 - 0.07 * i
            ax.hlines(y, average[group[0]] - 0.03, average[group[-1]] + 0.03, color="black", linewidth=3)
    ax.set_title(f"Average rank by {result.metric} over {result.n_datasets} datasets (1 = best)", fontsize=9)
    return save(fig, base)
