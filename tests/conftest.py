import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchbox.plugins import Plugins

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SRC = ROOT / "tests" / "plugins" / "benchbox-mean-intensity"
SHARED_DATA = ROOT.parent / "shared" / "data"


def benchmark_script(name: str):
    """benchmarks/<name>.py imported as a module (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A test that runs the CLI in-process with --threads N sets torch's thread count for the
    whole pytest process; later tests comparing in-process with subprocess scores would differ."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def plugins():
    """Built-ins only: tests do not depend on what else is installed."""
    return Plugins(load_entry_points=False)


def fake_distribution(site, distribution: str, entry: str, module: str):
    """The .dist-info folder ``pip install`` would write for a plugin ``module`` of
    ``distribution`` with the benchbox entry point ``entry``: on sys.path, it is discovered."""
    info = site / f"{distribution.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[benchbox]\n{entry} = {module}\n")
    return site


@pytest.fixture
def fake_install(tmp_path, monkeypatch):
    """Make the example plugin discoverable through its entry point, as ``pip install``
    would, by putting its source and a .dist-info folder on sys.path (no network, no pip)."""
    site = fake_distribution(tmp_path / "site", "benchbox-mean-intensity", "mean_intensity", "benchbox_mean_intensity")
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    monkeypatch.syspath_prepend(str(site))
    paths = [str(site), str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    yield site
    sys.modules.pop("benchbox_mean_intensity", None)


def run_cli(*args, cwd=None, env=None, timeout=600):
    """Run ``benchbox`` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "benchbox", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def result_record(label: str, seed: int, dataset: str = "d", status: str = "ok", method_params=None, **fields):
    """A result record as the store keeps it, built around its Experiment (for tests of tables
    and reports that need no training)."""
    from benchbox.experiment import Experiment, method_of
    from benchbox.store import SCHEMA

    experiment = Experiment(
        method=method_of(label),
        method_params=dict(method_params or {}),
        dataset=dataset,
        dataset_params={},
        image_size=32,
        seed=seed,
        entry=label,
    )
    return {
        "schema": SCHEMA,
        "status": status,
        "key": experiment.key,
        "experiment": experiment.as_dict(),
        "label": label,
        "method": experiment.method,
        "dataset": dataset,
        "seed": seed,
        **fields,
    }
