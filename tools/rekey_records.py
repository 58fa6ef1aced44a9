"""Re-key result records of schema 1 to schema 2, once, in place: scores untouched.

Schema 2 keeps a result's experiment in one field (``experiment``, :mod:`benchbox.experiment`)
and hashes it for the key; the data fingerprint now follows the files' content. For each
schema-1 record under the folders given, this

- checks that the data found under ``--data-root`` are the data the record was made on (the
  schema-1 fingerprint, file names and classes, must match the record's) and computes the
  content fingerprint of those files;
- writes the parameters the record ran with as schema 2 names them: ``precision`` ``fp32``
  where the method declares it and the record predates the option, the learning-rate
  schedule ``paper`` under its new name ``constant_then_linear`` (the same schedule);
- adds ``metrics.sen_at_95spe`` where the record predates it, computed from its stored scores
  as every newer record computes it;
- renames the record (and its ``.npz`` of artifacts) to the path of its new key.

Nothing else in a record changes: scores, metrics, histories and timings stay as they were.

    python tools/rekey_records.py results/cells/official-cpu-preset \\
        --data-root chest_xray=../shared/data/chest_xray --data-root oct=../shared/data/oct
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from benchbox.experiment import EXECUTION_PARAMS, Experiment
from benchbox.metrics import sensitivity_at_specificity
from benchbox.plugins import Plugins
from benchbox.store import SCHEMA, ResultStore

RENAMED_VALUES = {("lr_schedule", "paper"): "constant_then_linear"}


def names_fingerprint(dataset) -> str:
    """Schema 1's fingerprint: which files (relative path, class) each split lists."""
    root = dataset._root()
    listed = {
        split: sorted((p.relative_to(root).as_posix(), c) for p, c in dataset.items(split))
        for split in dataset.splits()
    }
    return hashlib.sha256(json.dumps(listed, sort_keys=True).encode()).hexdigest()[:16]


def rekey(path: Path, plugins: Plugins, data_roots: dict, fingerprints: dict) -> Path | None:
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("schema") != 1:
        return None
    cls = plugins.methods.get(record["method"])
    params = dict(record["method_params"])
    if "precision" in cls.param_defaults() and "precision" not in params:
        params["precision"] = "fp32"  # the option did not exist: it trained in fp32
    params = {k: RENAMED_VALUES.get((k, v), v) for k, v in params.items()}

    dataset_key = (record["dataset"], json.dumps(record["dataset_params"], sort_keys=True))
    if dataset_key not in fingerprints:
        dataset = plugins.make_dataset(record["dataset"], record["dataset_params"], data_roots[record["dataset"]])
        fingerprints[dataset_key] = (names_fingerprint(dataset), dataset.fingerprint())
    old, new = fingerprints[dataset_key]
    if record.get("data_fingerprint") != old:
        sys.exit(
            f"{path}: made on other files than those under {data_roots[record['dataset']]} "
            f"(fingerprint {record.get('data_fingerprint')} here {old}); nothing changed"
        )

    experiment = Experiment(
        method=record["method"],
        entry=record["label"],
        method_params={k: v for k, v in params.items() if k != "seed" and k not in EXECUTION_PARAMS},
        dataset=record["dataset"],
        dataset_params=record["dataset_params"],
        image_size=record["image_size"],
        seed=record["seed"],
        method_revision=record.get("method_revision", 0),
        data=new,
    )
    assert experiment.label == record["label"]
    for stale in ("data_fingerprint", "method_revision"):  # both live in the experiment now
        record.pop(stale, None)
    metrics = record.get("metrics") or {}
    if record["status"] == "ok" and "sen_at_95spe" not in metrics:
        metrics["sen_at_95spe"] = sensitivity_at_specificity(record["scores"]["labels"], record["scores"]["scores"])
    record.update(schema=SCHEMA, key=experiment.key, experiment=experiment.as_dict(), method_params=params)

    store = ResultStore(path.parent.parent)
    target = store.path(experiment)
    store.write(target, record)
    if target != path:
        path.unlink()
    artifacts = path.with_suffix(".npz")
    if artifacts.exists():
        artifacts.rename(target.with_suffix(".npz"))
    return target


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="results folders (<folder>/<dataset>/*.json)")
    parser.add_argument("--data-root", action="append", default=[], metavar="DATASET=PATH")
    args = parser.parse_args(argv)
    data_roots = dict(item.split("=", 1) for item in args.data_root)
    plugins, fingerprints = Plugins(load_entry_points=False), {}
    for folder in args.folders:
        for path in sorted(Path(folder).glob("*/*__seed*__*.json")):
            target = rekey(path, plugins, data_roots, fingerprints)
            if target is not None:
                print(f"{path.name} -> {target.name}")


if __name__ == "__main__":
    main()
