"""The report's figures (PNG and PDF, regenerable byte for byte): ROC curves (Fig. 4),
reconstructions (Figs. 5/6), anomaly maps, t-SNE of latent features (Fig. 7) and the
checkpoint rule's selection curves."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..selection import SELECTION_METRICS, curve_value
from ..tables import ordered
from .numbers import over_seeds

FPR_GRID = np.linspace(0.0, 1.0, 201)


def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7, "figure.dpi": 150})
    return plt


def save(fig, base: Path) -> list[Path]:
    """PNG and PDF, without dates or versions in the files (regenerable byte for byte)."""
    # Appended, not with_suffix: a label such as salad[center_lr=0.05] has a dot of its own.
    paths = [base.with_name(base.name + ".png"), base.with_name(base.name + ".pdf")]
    fig.savefig(paths[0], metadata={"Software": None}, bbox_inches="tight")
    fig.savefig(paths[1], metadata={"Creator": None, "Producer": None, "CreationDate": None}, bbox_inches="tight")
    _matplotlib().close(fig)
    return paths


def roc_figure(records: list[dict], dataset: str, base: Path, rank: dict[str, int]) -> list[Path]:
    from sklearn.metrics import roc_curve

    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    by_method = defaultdict(list)
    for r in records:
        by_method[r["label"]].append(r)
    for label in ordered(by_method, rank):
        curves, aucs = [], []
        for r in sorted(by_method[label], key=lambda r: r["seed"]):
            fpr, tpr, _ = roc_curve(r["scores"]["labels"], r["scores"]["scores"])
            curves.append(np.interp(FPR_GRID, fpr, tpr))
            aucs.append(r["metrics"]["auroc"])
        mean = np.mean(curves, axis=0)
        text = f"{label} ({over_seeds(aucs, digits=3)})"
        (line,) = ax.plot(FPR_GRID, mean, lw=1.2, label=text)
        if len(curves) > 1:
            std = np.std(curves, axis=0, ddof=1)
            ax.fill_between(
                FPR_GRID, np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), color=line.get_color(), alpha=0.15, lw=0
            )
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
    ax.set(
        xlabel="False positive rate",
        ylabel="True positive rate",
        xlim=(0, 1),
        ylim=(0, 1.01),
        title=f"ROC, {dataset} (mean over seeds ± std; AUC in legend)",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), frameon=False)  # below: never over a curve
    return save(fig, base)


def reconstruction_figure(label: str, artifacts: dict, classes: list[str], base: Path) -> list[Path]:
    plt = _matplotlib()
    originals = artifacts["originals"][:, 0].astype(np.float64)
    recons = artifacts["reconstructions"][:, 0].astype(np.float64)
    n = len(originals)
    fig, axes = plt.subplots(3, n, figsize=(0.75 * n + 0.6, 2.4), squeeze=False)
    for j in range(n):
        for i, (image, cmap) in enumerate(
            ((originals[j], "gray"), (recons[j], "gray"), (np.abs(originals[j] - recons[j]), "magma"))
        ):
            shown = axes[i, j].imshow(image, cmap=cmap, vmin=0, vmax=255)  # one scale for all maps
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[0, j].set_title(classes[j], fontsize=6)
    for i, name in enumerate(("input", "reconstruction", "|residual|")):
        axes[i, 0].set_ylabel(name, fontsize=6)
    bar = fig.colorbar(shown, ax=list(axes[2]), fraction=0.05, pad=0.02)
    bar.set_label("|input − recon.| (0–255)", fontsize=5)
    bar.ax.tick_params(labelsize=5)
    fig.suptitle(label, fontsize=8, y=1.04)  # above the class names of the first row
    return save(fig, base)


def map_figure(label: str, artifacts: dict, classes: list[str], base: Path) -> list[Path]:
    """One method's maps of its chosen test images (:func:`maps_figure`)."""
    maps = [("anomaly map", artifacts["maps"])]
    return maps_figure(artifacts["map_images"], artifacts["masks"], classes, maps, label, base)


def maps_figure(images, masks, classes: list[str], maps: list[tuple[str, np.ndarray]], title: str, base: Path):
    """The test images with their masks' contours, above one row of maps per entry of ``maps``
    (name, N maps) with the same contours; one colour scale for all of a row's maps (so a normal
    image's map looks as anomalous as the method finds it), none across rows."""
    plt = _matplotlib()
    n, rows = len(images), 1 + len(maps)
    fig, axes = plt.subplots(rows, n, figsize=(0.75 * n + 0.6, 0.85 * rows), squeeze=False)
    pictures = [("input, mask", images, "gray", (0, 255))]
    for name, row in maps:
        row = np.asarray(row, dtype=np.float64)
        pictures.append((name, row, "magma", (float(row.min()), float(row.max()))))
    for i, (name, row, cmap, scale) in enumerate(pictures):
        for j in range(n):
            axes[i, j].imshow(row[j], cmap=cmap, vmin=scale[0], vmax=scale[1])
            if masks[j].any():
                axes[i, j].contour(masks[j], levels=[0.5], colors="cyan", linewidths=0.6)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        if rows > 2:  # many rows: their names across, left of each row
            axes[i, 0].set_ylabel(name, fontsize=6, rotation=0, ha="right", va="center")
        else:
            axes[i, 0].set_ylabel(name, fontsize=6)
    for j in range(n):
        axes[0, j].set_title(classes[j], fontsize=6)
    if rows > 2:  # the default top margin is a share of the height: too wide for a tall figure
        height = 0.85 * rows
        fig.subplots_adjust(top=1 - 0.35 / height)
        fig.suptitle(title, fontsize=8, y=1 - 0.05 / height)
    else:
        fig.suptitle(title, fontsize=8, y=1.06)
    return save(fig, base)


def tsne_figure(first: tuple[str, np.ndarray], second: tuple[str, np.ndarray], base: Path) -> list[Path]:
    from sklearn.manifold import TSNE

    plt = _matplotlib()
    features = np.concatenate([first[1], second[1]])
    features = (features - features.mean(0)) / (features.std(0) + 1e-8)
    perplexity = max(2.0, min(30.0, (len(features) - 1) / 3))
    points = TSNE(n_components=2, perplexity=perplexity, random_state=0, init="pca").fit_transform(features)
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    n = len(first[1])
    ax.scatter(*points[:n].T, s=4, c="tab:red", label=first[0])
    ax.scatter(*points[n:].T, s=4, c="tab:blue", label=second[0])
    ax.set(xticks=[], yticks=[], title="t-SNE of latent features of normal test images")
    ax.legend(frameon=False, markerscale=2)
    return save(fig, base)


def selection_figure(records: list[dict], rule: str, dataset: str, base: Path, rank: dict[str, int]) -> list[Path]:
    """The selection split's AUROC at each evaluation, mean over seeds per method (± std)."""
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(3.6, 3.0))
    by_label = defaultdict(list)
    for r in records:
        if r.get("selection") and r["selection"]["curve"]:
            by_label[r["label"]].append(r)
    for label in ordered(by_label, rank):
        curves = [
            [(p["epoch"], curve_value(r["selection"], p)) for p in r["selection"]["curve"]] for r in by_label[label]
        ]
        epochs = sorted({e for c in curves for e, _ in c})
        values = np.array([[dict(c).get(e, np.nan) for e in epochs] for c in curves], dtype=float)
        mean = np.nanmean(values, axis=0)
        (line,) = ax.plot(epochs, mean, lw=1.1, marker=".", ms=3, label=label)
        if len(curves) > 1:
            std = np.nanstd(values, axis=0, ddof=1)
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.12, lw=0)
    where = "test" if rule == "test" else "validation"
    metrics = sorted({SELECTION_METRICS[r["selection"].get("metric", "auroc")] for r in records if r.get("selection")})
    what = f"{where} {' / '.join(metrics) or 'AUROC'}"
    ax.set(xlabel="epoch", ylabel=what, title=f"{dataset}: {what} per evaluation (mean ± std)")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), frameon=False)
    return save(fig, base)


def alt(text: str) -> str:
    """Image alt text without brackets (they would end the markdown link)."""
    return text.replace("[", "(").replace("]", ")")
