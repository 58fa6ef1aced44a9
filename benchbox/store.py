"""The result store: one JSON file per grid cell, written atomically.

``<results>/<dataset>/<label>__seed<k>__<key>.json`` where ``key`` hashes everything that
defines the experiment (:class:`benchbox.experiment.Experiment`). A file exists only once
complete (temp file + fsync + rename), so a run killed at any moment never leaves a
half-written result that looks finished.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from contextlib import contextmanager
from pathlib import Path

SCHEMA = 2  # 2: the experiment in one field; keys hash it (1: before, re-keyed by tools/rekey_records.py)
REQUIRED = ("schema", "status", "key", "label", "method", "dataset", "seed", "experiment")
STATUSES = ("ok", "failed", "diverged")


def slug(text: str) -> str:
    """A file-name-safe version of a row label."""
    return re.sub(r"[^A-Za-z0-9_.=,-]+", "_", text).strip("_")[:120]


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_arrays(target: Path, arrays: dict) -> None:
    """A compressed ``.npz``, written atomically (temp file + rename)."""
    import numpy as np

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_arrays(target: Path) -> dict | None:
    """The arrays of an ``.npz``; None where it is absent or unreadable."""
    import numpy as np

    if not target.exists():
        return None
    try:
        with np.load(target) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError):
        return None


class ResultStore:
    def __init__(self, root):
        self.root = Path(root)

    def path(self, cell) -> Path:
        """Where the result of ``cell`` (a :class:`~benchbox.plan.Cell` or its
        :class:`~benchbox.experiment.Experiment`) is kept."""
        experiment = getattr(cell, "experiment", cell)
        return (
            self.root
            / slug(experiment.dataset)
            / f"{slug(experiment.label)}__seed{experiment.seed}__{experiment.key[:12]}.json"
        )

    def read(self, path: Path) -> dict:
        """A record, or ValueError saying why the file is not one."""
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable result file ({error})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}: not a result record (top level is not an object)")
        if "schema" in record and record["schema"] != SCHEMA:
            raise ValueError(
                f"{path}: result schema {record.get('schema')!r}, this benchbox reads {SCHEMA} "
                f"(re-key older results once with tools/rekey_records.py)"
            )
        missing = [k for k in REQUIRED if k not in record]
        if missing:
            raise ValueError(f"{path}: not a result record (missing {', '.join(missing)})")
        if record["status"] not in STATUSES:
            raise ValueError(f"{path}: unknown status {record['status']!r}")
        if record["status"] == "ok":
            metrics = record.get("metrics")
            if not isinstance(metrics, dict) or not isinstance(metrics.get("auroc"), (int, float)):
                raise ValueError(f"{path}: status ok but no numeric metrics.auroc")
        return record

    def status(self, path: Path) -> str | None:
        """'ok', 'failed', 'diverged', or None when absent or unreadable (recomputed)."""
        if not path.exists():
            return None
        try:
            return self.read(path)["status"]
        except ValueError:
            return None

    def finished(self, path: Path) -> dict | None:
        """The record at ``path`` if it is a finished one (status ok); None when absent,
        unreadable or not ok (recomputed)."""
        if not path.exists():
            return None
        try:
            record = self.read(path)
        except ValueError:
            return None
        return record if record["status"] == "ok" else None

    def write(self, path: Path, record: dict) -> None:
        atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")

    def records(self) -> tuple[list[dict], list[str]]:
        """Every valid record in the root's dataset folders, and a message per file that is not one."""
        records, problems = [], []
        if not self.root.exists():
            return records, problems
        # <root>/<dataset>/<file> only: results folders nested deeper (the repository's committed
        # results/cells/<folder>/<dataset>/) are other experiments, read by naming them.
        for path in sorted(self.root.glob("*/*__seed*__*.json")):
            if path.parent.name.startswith("."):
                continue
            try:
                record = self.read(path)
            except ValueError as error:
                problems.append(str(error))
                continue
            record["_path"] = str(path)
            records.append(record)
        return records, problems

    def artifacts_path(self, result: Path) -> Path:
        return result.with_suffix(".npz")

    def write_artifacts(self, result: Path, arrays: dict) -> None:
        """Reconstructions, latent features and maps for reports, written atomically."""
        write_arrays(self.artifacts_path(result), arrays)

    def read_artifacts(self, result: Path) -> dict | None:
        return read_arrays(self.artifacts_path(Path(result)))

    # -- per-cell state beside the results -------------------------------------------------
    def checkpoint_path(self, result: Path) -> Path:
        return result.parent / ".checkpoints" / f"{result.stem}.pt"

    @contextmanager
    def lock(self, result: Path):
        """Yields True if this process may run the cell, False if a live one already does.

        The lock file holds host and pid; a lock whose process is gone (same host) is taken
        over, so a killed run never blocks the cell forever. A lock from another host is
        respected until removed by hand (``.locks/`` beside the results)."""
        lock = result.parent / ".locks" / f"{result.stem}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if _stale(lock):
                    lock.unlink(missing_ok=True)
                    continue
                yield False
                return
            with os.fdopen(fd, "w") as handle:
                json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}, handle)
            try:
                yield True
            finally:
                lock.unlink(missing_ok=True)
            return
        yield False


def _stale(lock: Path) -> bool:
    try:
        owner = json.loads(lock.read_text())
    except (OSError, ValueError):  # being written, or left half-written by a kill
        try:
            return time.time() - lock.stat().st_mtime > 60
        except OSError:
            return True
    if owner.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, ValueError, TypeError):
        return False
    return False
