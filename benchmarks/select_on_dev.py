"""Pick one variant by its mean AUROC on the dev protocol — never on a test split.

    python benchmarks/select_on_dev.py RESULTS_DIR DATASET LABEL [LABEL ...]

Prints the label with the highest mean AUROC over its seeds among the given candidates
(the first one, the paper's default, wins ties and is kept when no other has all its seeds),
and a line per candidate on stderr. Every result read must be of the dev protocol.
"""

from __future__ import annotations

import sys

import numpy as np

from benchbox.store import ResultStore


def select(results_dir: str, dataset: str, candidates: list[str]) -> tuple[str, dict]:
    records, _ = ResultStore(results_dir).records()
    aurocs: dict[str, list[float]] = {label: [] for label in candidates}
    for record in records:
        if record["dataset"] != dataset or record["label"] not in aurocs or record["status"] != "ok":
            continue
        protocol = (record.get("split") or {}).get("protocol")
        if protocol != "dev":
            raise SystemExit(f"{record['_path']}: protocol {protocol!r}, not dev: refusing to select on it")
        aurocs[record["label"]].append(record["metrics"]["auroc"])
    seeds = max(len(v) for v in aurocs.values())
    means = {label: float(np.mean(v)) for label, v in aurocs.items() if v and len(v) == seeds}
    best = candidates[0]
    for label in candidates[1:]:
        if label in means and means[label] > means.get(best, -1.0):
            best = label
    return best, {label: (means.get(label), len(aurocs[label])) for label in candidates}


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        raise SystemExit(__doc__)
    best, table = select(argv[0], argv[1], argv[2:])
    for label, (mean, n) in table.items():
        shown = "—" if mean is None else f"{mean:.4f}"
        print(f"dev AUROC {shown} (n={n})  {label}", file=sys.stderr)
    print(best)


if __name__ == "__main__":
    main(sys.argv[1:])
