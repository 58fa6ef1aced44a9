"""Which cells of a results table a paper marks: the best of each column in bold and the second
underlined, compared by the digits shown (so that two rows shown alike tie), among the rows
with every requested seed; and, for the AUROC columns, which rows the two-level paired bootstrap
(:mod:`benchbox.significance`) cannot separate from the best (†), in which case no row is
bold: a best that the data cannot tell from the next is not shown as the best."""

from __future__ import annotations

import re
from collections import defaultdict

from ..significance import paired_bootstrap, paired_bootstrap_pixel

ALPHA = 0.05
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def shown_value(text: str) -> float | None:
    """The mean as a cell shows it (``0.9600 ± 0.0141`` -> 0.96); None for "–"."""
    found = _NUMBER.match(str(text).strip())
    return float(found.group(0)) if found else None


def ranked(shown: dict[str, str], eligible: set[str]) -> dict[str, str]:
    """Row -> "best" / "second" for one column, by the shown digits among ``eligible`` rows
    (ties share the mark)."""
    values = {row: shown_value(text) for row, text in shown.items() if row in eligible}
    distinct = sorted({v for v in values.values() if v is not None}, reverse=True)
    marks = {}
    for mark, value in zip(("best", "second"), distinct):
        marks.update({row: mark for row, v in values.items() if v == value})
    return marks


def _same_test_set(a: dict, b: dict) -> bool:
    return a["test_set"]["hash"] == b["test_set"]["hash"] and a["scores"]["ids"] == b["scores"]["ids"]


def inseparable(records_by_row: dict[str, list[dict]], best: str, level: str, read_artifacts=None) -> set[str]:
    """The rows whose AUROC (``level="pixel"``: pixel AUROC, from the stored per-image
    histograms) the bootstrap cannot separate from ``best``'s on the seeds both ran on the same
    test set (two-sided p >= 0.05), or cannot compare at all (no shared seed, no histograms)."""
    seeds = defaultdict(dict)
    for row, records in records_by_row.items():
        for r in records:
            if not r.get("scores") or not r.get("test_set"):
                continue  # nothing to resample: not comparable
            if level == "image":
                seeds[row][r["seed"]] = (r, (r["scores"]["labels"], r["scores"]["scores"]))
                continue
            artifacts = read_artifacts(r["_path"]) if read_artifacts and r.get("_path") else None
            if artifacts and "pixel_hist_positive" in artifacts:
                seeds[row][r["seed"]] = (r, (artifacts["pixel_hist_positive"], artifacts["pixel_hist_negative"]))
    out = set()
    for row in records_by_row:
        if row == best:
            continue
        shared = [
            s for s in sorted(set(seeds[best]) & set(seeds[row])) if _same_test_set(seeds[best][s][0], seeds[row][s][0])
        ]
        if not shared:
            out.add(row)
            continue
        a, b = [seeds[best][s][1] for s in shared], [seeds[row][s][1] for s in shared]
        if level == "image":
            result = paired_bootstrap([labels for labels, _ in a], [s for _, s in a], [s for _, s in b])
        else:
            result = paired_bootstrap_pixel(a, b)
        if result["p_value"] >= ALPHA:
            out.add(row)
    return out
