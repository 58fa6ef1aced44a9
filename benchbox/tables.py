"""Tables from result records: mean ± sample std (ddof=1) over seeds, with n.

Layouts: ``markdown`` (Table I of the SALAD paper: methods as rows, per dataset the
metric columns), ``csv`` (numeric mean/std/n columns, long format, in the units shown: F1 and
the other rates in %), ``std`` (Table II: standard deviations only) and ``latex`` (as papers
set it: the table environment with caption and label, booktabs, datasets as column groups,
``\\citep`` after each method and dataset, the best in bold and the second underlined,
† where the bootstrap cannot separate a row from the best: :mod:`benchbox.report.marks`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from .catalogue import Catalogue, bib_keys
from .experiment import SELECTION_RULES, Experiment, method_of
from .metrics import PROTOCOLS, sensitivity_at_specificity
from .report import latex as latex_renderer
from .report import markdown as markdown_renderer
from .report.marks import inseparable, ranked
from .report.model import Table
from .report.numbers import plus_minus

METRICS = ("auroc", "f1", "acc", "sen", "spe", "auprc", "bacc", "sen95")
HEADERS = {
    "auroc": "AUC",
    "f1": "F1",
    "acc": "ACC",
    "sen": "SEN",
    "spe": "SPE",
    "auprc": "AUPRC",
    "bacc": "BACC",
    "sen95": "SEN@95SPE",
}
PERCENT = {"f1", "acc", "sen", "spe", "bacc", "sen95"}  # shown in % like the paper
#: The localisation table's columns (:mod:`benchbox.localisation`), where a dataset has masks.
PIXEL = ("pixel_auroc", "aupro", "best_dice")
HEADERS.update({"pixel_auroc": "P-AUROC", "aupro": "AUPRO@0.3", "best_dice": "Dice*"})


def ordered(labels, rank: dict[str, int]) -> list[str]:
    """Row labels in the order of ``rank`` (method -> position: :func:`benchbox.grids.row_order`
    of the plugins' grids), then alphabetically."""
    return sorted(labels, key=lambda label: (rank.get(method_of(label), len(rank)), label))


def dataset_names(records: list[dict]) -> list[str]:
    """Each record's dataset as tables name it: the name it was run under (``dataset_name``;
    the plugin's name for records made before names), told apart where one name holds several
    data trees (layouts, parameters or images) so that their results are never merged, ranked
    or tested together: ``BrainTumor (data=5fe7893f)``. Idempotent: a told-apart name stays."""
    trees = []
    for r in records:
        experiment = r.get("experiment") or {}
        tree = {"layout": r["dataset"], "data": str(experiment.get("data") or "").split("+val:")[0][:8]}
        tree.update({k: repr(v) for k, v in (experiment.get("dataset_params") or {}).items()})
        trees.append(tree)
    names = [r.get("dataset_name") or r["dataset"] for r in records]
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    out = list(names)
    for name, indices in groups.items():
        distinct = {json.dumps(trees[i], sort_keys=True) for i in indices}
        if len(distinct) < 2:
            continue
        keys = sorted({k for i in indices for k in trees[i]})
        differing = [k for k in keys if len({trees[i].get(k) for i in indices}) > 1]
        if differing != ["data"]:  # the images follow from a layout or a parameter: name those
            differing = [k for k in differing if k != "data"]
        for i in indices:
            what = ", ".join(f"{k}={trees[i].get(k, '–')}" for k in differing)
            out[i] = f"{name} ({what})"
    return out


def experiment_labels(records: list[dict]) -> list[str]:
    """Each record's row label: its method label, plus what differs where one label on one
    dataset holds several experiments (other epochs, image size, data...), so that they are
    never averaged together."""
    groups: dict[tuple, list[int]] = {}
    for i, (r, dataset) in enumerate(zip(records, dataset_names(records))):
        groups.setdefault((dataset, r["label"]), []).append(i)
    labels = [r["label"] for r in records]
    for indices in groups.values():
        # The experiment, and the test set it was measured on: a guard against a dataset whose
        # fingerprint misses a change (one that declares its parameters define its data).
        # (A run that ended before loading its test set, or is held by another, has no hash.)
        configs = [
            {
                **Experiment.from_record(records[i]).group(),
                **({"test set": records[i]["test_set"]["hash"][:12]} if records[i].get("test_set") else {}),
            }
            for i in indices
        ]
        keys = sorted({k for c in configs for k in c})
        differing = [k for k in keys if len({c.get(k) for c in configs if k != "test set" or k in c}) > 1]
        if not differing:
            continue
        for i, config in zip(indices, configs):
            what = ", ".join(
                f"{k} {config.get(k, '–')}" if k == "test set" else f"{k}={config.get(k, '–')}" for k in differing
            )
            labels[i] = f"{records[i]['label']} ({what})"
    return labels


def name_rows(records: list[dict]) -> list[dict]:
    """Each record's row label and dataset name as tables show them (:func:`experiment_labels`,
    :func:`dataset_names`), set on the record as ``label`` and ``dataset_name``."""
    for record, label, dataset in zip(records, experiment_labels(records), dataset_names(records)):
        record["label"], record["dataset_name"] = label, dataset
    return records


def mixed_warnings(records: list[dict]) -> list[str]:
    """One line per label that holds several experiments (shown as separate rows)."""
    out = []
    for label in sorted(set(experiment_labels(records))):
        base = label.split(" (", 1)[0]
        if label != base:
            out.append(f"{base}: several experiments under one label; shown apart as {label!r}")
    return out


def frame(records: list[dict], protocol: str = "test_best_f1", seed_independent=frozenset()) -> pd.DataFrame:
    """One row per record: dataset, row label (see :func:`experiment_labels`), seed, status and
    the metrics. A ``seed_independent`` method's runs are one run: its first seed only."""
    records = first_seed_only(records, seed_independent)
    rows = []
    for r, label, dataset in zip(records, experiment_labels(records), dataset_names(records)):
        row = {
            "dataset": dataset,
            "method": label,
            "base": r["method"],
            "seed": r["seed"],
            "status": r["status"],
            "requested": 1 if r["method"] in seed_independent else len(r.get("seeds_requested") or [r["seed"]]),
        }
        if r["status"] == "ok":
            thresholded = r["metrics"].get("thresholds", {}).get(protocol, {})
            row["auroc"] = r["metrics"]["auroc"]
            row["auprc"] = r["metrics"].get("auprc", math.nan)
            for m in ("f1", "acc", "sen", "spe"):
                row[m] = thresholded.get(m, math.nan)
            # Also for records made before these two were stored: from SEN/SPE, and the scores.
            row["bacc"] = (row["sen"] + row["spe"]) / 2
            row["sen95"] = r["metrics"].get("sen_at_95spe", math.nan)
            if math.isnan(row["sen95"]) and r.get("scores"):
                row["sen95"] = sensitivity_at_specificity(r["scores"]["labels"], r["scores"]["scores"])
            row.update({m: (r.get("pixel_metrics") or {}).get(m, math.nan) for m in PIXEL})
        rows.append(row)
    df = pd.DataFrame(rows, columns=["dataset", "method", "base", "seed", "status", "requested", *METRICS, *PIXEL])
    return df.drop_duplicates(["dataset", "method", "seed"], keep="last")


def first_seed_only(records: list[dict], seed_independent) -> list[dict]:
    """The records, with only the lowest seed's of each seed-independent method's experiment
    (runs of other seeds, made before it declared so, are the same numbers again)."""
    if not any(r["method"] in seed_independent for r in records):
        return records
    keys = [
        (dataset, label, selection_rule(r))
        for r, label, dataset in zip(records, experiment_labels(records), dataset_names(records))
    ]
    first: dict[tuple, int] = {}
    for r, key in zip(records, keys):
        if r["method"] in seed_independent:
            first[key] = min(first.get(key, r["seed"]), r["seed"])
    return [r for r, key in zip(records, keys) if r["method"] not in seed_independent or r["seed"] == first[key]]


def aggregate(df: pd.DataFrame, rank: dict[str, int] | None = None) -> pd.DataFrame:
    """Mean, std (ddof=1) and n of each metric per (dataset, method), plus failures; rows in
    the order of ``rank`` (see :func:`ordered`)."""
    if df.empty:
        return pd.DataFrame()
    ok = df[df.status == "ok"]
    grouped = ok.groupby(["dataset", "method"])[[*METRICS, *PIXEL]]
    out = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).add_suffix("_std"))
    counts = df.groupby(["dataset", "method"]).agg(
        n=("status", lambda s: int((s == "ok").sum())),
        n_failed=("status", lambda s: int((s == "failed").sum())),
        n_diverged=("status", lambda s: int((s == "diverged").sum())),
        n_held=("status", lambda s: int((s == "held").sum())),
        requested=("requested", "max"),
        base=("base", "first"),
    )
    out = counts.join(out, how="left").reset_index()
    rank = rank or {}
    out["_order"] = out.base.map(lambda b: rank.get(b, len(rank)))
    return out.sort_values(["dataset", "_order", "method"]).drop(columns="_order").reset_index(drop=True)


def _fmt(metric: str, mean: float, std: float, n: int) -> str:
    if n == 0:
        return "–"
    scale, digits = (100.0, 2) if metric in PERCENT else (1.0, 4)
    return plus_minus(mean, std if n > 1 else None, digits=digits, scale=scale)


def _n_cell(row, seed_independent=frozenset()) -> str:
    if row.base in seed_independent and row.n == 1:
        return "1 (seed-independent)"
    text = f"{row.n}"
    if row.n < row.requested:
        text += f"/{row.requested}"
    problems = [
        f"{count} {what}"
        for count, what in (
            (row.n_failed, "failed"),
            (row.n_diverged, "diverged"),
            (row.n_held, "held by another running benchbox"),
        )
        if count
    ]
    return text + (f" ({', '.join(problems)})" if problems else "")


def wide(agg: pd.DataFrame, metrics=METRICS, std_only: bool = False, seed_independent=frozenset()) -> pd.DataFrame:
    """Methods as rows; for each dataset its metric columns and n."""
    datasets = list(dict.fromkeys(agg.dataset))
    methods = list(dict.fromkeys(agg.method))
    table = pd.DataFrame(index=pd.Index(methods, name="Method"))
    for ds in datasets:
        sub = agg[agg.dataset == ds].set_index("method")
        for m in metrics:
            col = f"{ds} {HEADERS[m]}" if len(datasets) > 1 else HEADERS[m]
            if std_only:
                scale, digits = (100.0, 2) if m in PERCENT else (1.0, 4)
                values = sub[f"{m}_std"].map(lambda v: plus_minus(v, digits=digits, scale=scale))
            else:
                values = sub.apply(lambda r: _fmt(m, r[f"{m}_mean"], r[f"{m}_std"], r.n), axis=1)
            table[col] = values
        table[f"{ds} n" if len(datasets) > 1 else "n"] = sub.apply(lambda r: _n_cell(r, seed_independent), axis=1)
    return table.fillna("–")


def footnote(protocol: str) -> str:
    return (
        f"Mean ± sample std (ddof=1) over seeds; n = runs averaged (n/requested where seeds are "
        f"missing). AUC, AUPRC and SEN@95SPE (the sensitivity at 95% specificity, read off the ROC "
        f"curve) are threshold-free; F1, ACC, SEN, SPE and BACC (balanced accuracy, (SEN + SPE)/2) "
        f"in % at the {protocol} threshold: {PROTOCOLS[protocol]}."
    )


def selection_rule(record: dict) -> str:
    """How the record's checkpoint was chosen (``--select``)."""
    return (record.get("experiment") or {}).get("dimensions", {}).get("select", "last")


def by_rule(records: list[dict]) -> dict[str, list[dict]]:
    """The records of each checkpoint rule, in the order of :data:`SELECTION_RULES`: numbers of
    different rules are never averaged, ranked or tested against each other."""
    parts = {rule: [r for r in records if selection_rule(r) == rule] for rule in SELECTION_RULES}
    return {rule: part for rule, part in parts.items() if part}


def rule_heading(rule: str) -> str:
    return f"Checkpoint {SELECTION_RULES[rule]}" if rule != "last" else "Checkpoint: the last epoch"


def pixel_footnote() -> str:
    return (
        "Localisation, mean ± sample std (ddof=1) over seeds, on the test images with known masks "
        "(normal images: all pixels negative): P-AUROC = pixel AUROC; AUPRO@0.3 = area under the "
        "per-region overlap curve up to 30% false-positive rate, divided by 0.3 (MVTec AD / BMAD); "
        "Dice* = the best Dice over thresholds, the threshold chosen on the test masks (optimistic, "
        "as MedIAnomaly reports it)."
    )


@dataclass
class View:
    """How a paper's table is shown, beyond its numbers: names and references from the
    ``catalogue``; which ``metrics`` (default: all of the level); ``order``, the row labels
    (method entries) to show, in that order (default: every row, in the plugins' order);
    ``read_artifacts`` (a result path -> its stored arrays), for the pixel-level bootstrap;
    ``published``: rows of published tables to set apart below the runs
    (:mod:`benchbox.published`)."""

    catalogue: Catalogue = field(default_factory=Catalogue)
    metrics: tuple[str, ...] | None = None
    order: list[str] | None = None
    read_artifacts: Callable | None = None
    published: list = field(default_factory=list)


CHANCE = "every image flagged anomalous"
#: The columns compared by the two-level bootstrap (the others are marked by the digits alone).
TESTED = ("auroc", "pixel_auroc")


def main_tables(
    records: list[dict],
    protocol: str = "test_best_f1",
    rows: dict[str, str] | None = None,
    level: str = "image",
    rank: dict[str, int] | None = None,
    std_only: bool = False,
    view: View | None = None,
) -> list[Table]:
    """Table I (``std_only``: Table II) of the records, one table per checkpoint rule, each
    headed by its rule unless every record is of the last epoch; the CSV's rows in ``numeric``.
    ``rows``: row label -> name to show, in the order to show them (an ablation table's rows as
    the paper names them); rows not in it are left out. ``level="pixel"``: the localisation
    table (:data:`PIXEL`). ``view``: names, references, metrics and row order (:class:`View`)."""
    view = view or View()
    metrics = tuple(view.metrics or (PIXEL if level == "pixel" else METRICS))
    independent = view.catalogue.seed_independent
    parts = by_rule(records)
    headed = list(parts) not in ([], ["last"])
    out = []
    for rule, part in parts.items():
        part = first_seed_only(part, independent)
        agg = aggregate(frame(part, protocol, independent), rank)
        if view.order is not None and not agg.empty:
            agg = agg[agg.method.isin(view.order)].copy()
            agg["_order"] = agg.method.map(view.order.index)
            agg = agg.sort_values(["dataset", "_order"]).drop(columns="_order").reset_index(drop=True)
        if rows is not None and not agg.empty:
            agg = agg[agg.method.isin(rows)].copy()
            agg["_order"] = agg.method.map(list(rows).index)
            agg = agg.sort_values(["dataset", "_order"]).drop(columns="_order").reset_index(drop=True)
        if agg.empty:
            continue
        titles = {m: rows[m] if rows is not None else view.catalogue.method_title(m) for m in agg.method}
        labelled = list(zip(part, experiment_labels(part), dataset_names(part)))  # (record, row label, dataset)
        plugins = {d: r["dataset"] for r, _, d in labelled}
        datasets = list(dict.fromkeys(agg.dataset))
        heading = {d: view.catalogue.dataset_title(plugins.get(d, d), d) for d in datasets}
        shown = wide(agg, metrics, std_only, independent)
        shown.index = shown.index.map(titles)
        shown = shown.rename(columns=lambda c: _retitled(c, datasets, heading))
        table = Table(
            shown,
            rule=rule_heading(rule) if headed else None,
            note="Sample std (ddof=1) over seeds (Table II layout)."
            if std_only
            else (pixel_footnote() if level == "pixel" else footnote(protocol)),
            numeric=_in_shown_units(agg.assign(checkpoint=SELECTION_RULES[rule]), metrics),
            cite={titles[m]: ",".join(bib_keys(view.catalogue.method_references(m))) for m in titles},
            groups=_groups(shown, datasets, heading, plugins, view.catalogue),
            caption=caption(part, level, rule, protocol, [heading[d] for d in datasets], std_only, independent),
            label=f"tab:{_slug('-'.join(datasets))}-{level}" + ("" if rule == "last" else f"-{rule}"),
        )
        if not std_only:
            _mark(table, agg, labelled, metrics, titles, heading, level, view)
            table.note += " " + MARKS_LEGEND
            if level == "image" and rows is None and "f1" in metrics:
                _add_chance_rows(table, labelled, metrics, datasets, heading)
            if view.published:
                _add_published_rows(table, view.published, metrics, datasets, heading)
        out.append(table)
    return out


def _retitled(column: str, datasets: list[str], heading: dict[str, str]) -> str:
    for d in datasets:
        if len(datasets) > 1 and column.startswith(f"{d} "):
            return f"{heading[d]} {column[len(d) + 1 :]}"
    return column


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _groups(shown, datasets, heading, plugins, catalogue) -> list:
    """Each dataset over its columns, with its references (LaTeX's column groups)."""
    groups = []
    for d in datasets:
        members = [c for c in shown.columns if len(datasets) == 1 or c.startswith(f"{heading[d]} ")]
        keys = ",".join(bib_keys(catalogue.dataset_references(plugins.get(d, d))))
        groups.append((heading[d], members, keys))
    return groups


def _in_shown_units(agg: pd.DataFrame, metrics) -> pd.DataFrame:
    """The CSV's columns, the rates in % as every table shows them."""
    columns = ["dataset", "method", "checkpoint", "n", "n_failed", "n_diverged", "n_held", "requested"]
    columns += [f"{m}_{s}" for m in metrics for s in ("mean", "std")]
    numeric = agg[columns].copy()
    for m in metrics:
        if m in PERCENT:
            numeric[[f"{m}_mean", f"{m}_std"]] *= 100
    return numeric


def _mark(table: Table, agg, labelled, metrics, titles, heading, level, view: View) -> None:
    """Best (bold) and second (underlined) per column among the rows with every requested seed,
    by the digits shown; in the AUROC columns no bold where the two-level bootstrap cannot
    separate the best from another row, which gets †. SEN and SPE are not marked
    (:data:`TRADE_OFF`)."""
    multi = agg.dataset.nunique() > 1
    for d in dict.fromkeys(agg.dataset):
        sub = agg[agg.dataset == d]
        eligible = {titles[m] for m, n, req in zip(sub.method, sub.n, sub.requested) if 0 < n and n >= req}
        by_title = {titles[m]: m for m in sub.method}
        for m in (m for m in metrics if m not in TRADE_OFF):
            column = f"{heading[d]} {HEADERS[m]}" if multi else HEADERS[m]
            marks = ranked(table.frame[column].to_dict(), eligible) if len(eligible) > 1 else {}
            best = [row for row, mark in marks.items() if mark == "best"]
            if m in TESTED and best:
                runs = {
                    by_title[row]: [
                        r for r, label, ds in labelled if label == by_title[row] and ds == d and r["status"] == "ok"
                    ]
                    for row in eligible
                }
                tied = {by_title[row] for row in best[1:]}
                apart = inseparable(runs, by_title[best[0]], level, view.read_artifacts) | tied
                if apart:
                    marks = {}
                    table.inseparable |= {(titles[label], column) for label in apart}
            table.marks.update({(row, column): mark for row, mark in marks.items()})


def _add_chance_rows(table: Table, labelled, metrics, datasets, heading) -> None:
    """The row of a detector that flags every test image: F1 and ACC at the anomalous share,
    SEN 100, SPE 0, AUC 0.5 (a constant score). A method's thresholded numbers mean little
    until they are above it."""
    row = {}
    for d in datasets:
        found = next((r for r, _, ds in labelled if ds == d and r.get("scores")), None)
        if found is None:
            continue
        labels = found["scores"]["labels"]
        positive, n = sum(labels), len(labels)
        values = {
            "auroc": 0.5,
            "f1": 2 * positive / (2 * positive + (n - positive)),
            "acc": positive / n,
            "sen": 1.0,
            "spe": 0.0,
            "auprc": positive / n,
            "bacc": 0.5,
        }
        for m in metrics:
            column = f"{heading[d]} {HEADERS[m]}" if len(datasets) > 1 else HEADERS[m]
            row[column] = _fmt(m, values[m], math.nan, 1) if m in values else "–"
    if row:
        table.frame.loc[CHANCE] = pd.Series(row).reindex(table.frame.columns).fillna("–")
        table.reference.append(CHANCE)
        said = f" Row '{CHANCE}' (a constant score): the F1 and ACC that any threshold-based number must beat."
        table.note += said
        table.caption += said


def _add_published_rows(table: Table, published, metrics, datasets, heading) -> None:
    """Published numbers (:mod:`benchbox.published`) of the datasets shown, below the runs,
    never marked, ranked or tested."""
    multi = len(datasets) > 1
    rows: dict[str, dict[str, str]] = {}
    notes = []
    for entry in published:
        if entry.dataset not in datasets:
            continue
        column = f"{heading[entry.dataset]} {HEADERS[entry.metric]}" if multi else HEADERS[entry.metric]
        if entry.metric not in metrics:
            continue
        rows.setdefault(entry.row, {})[column] = _fmt(
            entry.metric, entry.mean, entry.std, 2 if entry.std is not None else 1
        )
        if entry.caveat not in notes:
            notes.append(entry.caveat)
    for row, cells in rows.items():
        table.frame.loc[row] = pd.Series(cells).reindex(table.frame.columns).fillna("–")
        table.reference.append(row)
        table.cite[row] = next((e.keys for e in published if e.row == row), "")
    if notes:
        table.note += " Published rows: " + " ".join(notes)
        table.caption += " Published rows, set apart and never marked: " + " ".join(notes)


def caption(
    records: list[dict], level: str, rule: str, protocol: str, datasets: list[str], std_only: bool, independent=()
) -> str:
    """What a reader needs to read the numbers: the datasets, checkpoint rule, seeds, image size,
    epochs, device; the threshold; what the marks mean."""
    seeds = sorted({r["seed"] for r in records})
    sizes = sorted({r.get("image_size") for r in records if r.get("image_size")})
    epochs = sorted({r.get("epochs") for r in records if r.get("epochs")})
    devices = sorted({str(r.get("device", "")).split(" (")[0] for r in records if r.get("device")})
    what = "Localisation (pixel level)" if level == "pixel" else "Anomaly detection (image level)"
    text = f"{what} on {', '.join(datasets)}; {rule_heading(rule).lower()}. "
    text += (
        "Sample std (ddof=1)" if std_only else "Mean ± sample std (ddof=1)"
    ) + f" over seeds {', '.join(map(str, seeds))}"
    text += " (n where fewer finished"
    text += (
        "; seed-independent methods run once, without a std)"
        if any(r["method"] in independent for r in records)
        else ")"
    )
    if sizes:
        text += f"; images {'/'.join(f'{s}×{s}' for s in sizes)}"
    if epochs:
        text += f", {'/'.join(map(str, epochs))} epochs for trained methods"
    if devices:
        text += f", on {'/'.join(devices)}"
    text += "."
    if std_only:
        return text
    if level == "image":
        text += f" F1, ACC, SEN, SPE, BACC in % at the {protocol} threshold ({PROTOCOLS[protocol]})."
    return text + " " + MARKS_LEGEND


MARKS_LEGEND = (
    "Best in bold, second underlined (by the digits shown, among rows with every seed); in the AUROC "
    "columns no bold where a two-level paired bootstrap (test images and seeds, 2,000 replicates) cannot "
    "separate the best from another row (p ≥ 0.05), which is marked †."
)


def render(
    records: list[dict],
    fmt: str = "markdown",
    protocol: str = "test_best_f1",
    rows: dict[str, str] | None = None,
    level: str = "image",
    rank: dict[str, int] | None = None,
    view: View | None = None,
) -> str:
    """The records' Table I as ``fmt`` (markdown, csv, std: Table II, latex); see
    :func:`main_tables`. Records of several checkpoint rules give one table per rule, each
    headed by its rule (CSV: a ``checkpoint`` column)."""
    if level == "pixel":
        records = [r for r in records if r.get("pixel_metrics") or r.get("status") != "ok"]
        if not any(r.get("pixel_metrics") for r in records):
            return "no pixel-level results (no test split with masks, or no method with anomaly maps)\n"
    parts = main_tables(records, protocol, rows, level, rank, std_only=fmt == "std", view=view)
    if not parts:
        return "no results\n"
    if fmt == "csv":
        return pd.concat([t.numeric for t in parts]).to_csv(index=False, float_format="%.6g")
    if fmt == "latex":
        return latex_renderer.tables(parts)
    return markdown_renderer.tables(parts)


#: Not bolded: each is one side of a threshold's trade-off, so its "best" is often a degenerate
#: threshold (SEN 100% by calling every image anomalous).
TRADE_OFF = ("sen", "spe")


def seed_warnings(records: list[dict]) -> list[str]:
    agg = aggregate(frame(records))
    return [
        f"{r.method} on {r.dataset}: {r.n} of {r.requested} requested seeds finished"
        for r in agg.itertuples()
        if r.n < r.requested
    ]
