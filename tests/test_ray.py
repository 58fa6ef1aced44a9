"""The Ray executor, on a local Ray instance (no cluster needed)."""

import json
import os

import pytest

ray = pytest.importorskip("ray")

from benchbox.plan import plan  # noqa: E402
from benchbox.plugins import Plugins  # noqa: E402
from benchbox.ray_executor import RayExecutor  # noqa: E402
from benchbox.runner import run_grid  # noqa: E402
from benchbox.store import ResultStore  # noqa: E402

from .conftest import PLUGIN_SRC, ROOT, fake_distribution  # noqa: E402

CRASHERS = ROOT / "tests" / "plugins" / "benchbox-crashers"
SMALL = [("synthetic", "n_train", "48"), ("synthetic", "n_test", "24"), ("ae", "width", "8"), ("vae", "width", "8")]


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    site = fake_distribution(tmp_path_factory.mktemp("site"), "benchbox-crashers", "crashers", "benchbox_crashers")
    path = os.pathsep.join([str(site), str(CRASHERS), str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")])
    import torch

    ray.init(
        num_cpus=max(2, torch.get_num_threads()),
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path, "BENCHBOX_CACHE_DIR": str(site / "cache")}},
    )
    import sys

    sys.path[:0] = [str(site), str(CRASHERS)]
    yield Plugins()
    ray.shutdown()
    sys.path[:] = [p for p in sys.path if p not in (str(site), str(CRASHERS))]
    sys.modules.pop("benchbox_crashers", None)


def _results(root):
    out = {}
    for path in (root / "synthetic").glob("*.json"):
        record = json.loads(path.read_text())
        out[path.name] = (record["status"], record["scores"]["scores"] if record["status"] == "ok" else None)
    return out


def test_ray_grid_matches_local_keys_and_scores(local_ray, tmp_path):
    cells = plan(local_ray, ["ae", "vae"], ["synthetic"], [0, 1], epochs=1, overrides=SMALL)
    local = run_grid(cells, local_ray, ResultStore(tmp_path / "local"))
    # Ray gives a task as many threads as CPUs; bit-identical floats need the local count.
    threads = __import__("torch").get_num_threads()
    remote = run_grid(cells, local_ray, ResultStore(tmp_path / "ray"), executor=RayExecutor(cpus_per_run=threads))
    assert len(local.done) == len(remote.done) == 4
    on_ray, on_local = _results(tmp_path / "ray"), _results(tmp_path / "local")
    assert on_ray.keys() == on_local.keys()
    assert on_ray == on_local  # same scores on CPU
    assert all((tmp_path / "ray" / "synthetic" / n).with_suffix(".log").exists() for n in on_ray)
    again = run_grid(cells, local_ray, ResultStore(tmp_path / "ray"), executor=RayExecutor())
    assert len(again.skipped) == 4 and not again.done  # skipped before submission


def test_dead_worker_is_retried_or_recorded_failed(local_ray, tmp_path):
    marker = tmp_path / "crashed-once"
    cells = plan(local_ray, [f"crash_once[marker={marker}]", "crash_always"], ["synthetic"], [0], overrides=SMALL)
    summary = run_grid(cells, local_ray, ResultStore(tmp_path / "r"), executor=RayExecutor(max_retries=1))
    assert marker.exists()  # it did die once
    assert [c.method for c, _ in summary.done] == ["crash_once"]  # retried, then finished
    ((cell, record),) = summary.failed
    assert cell.method == "crash_always" and "worker failed 2 times" in record["error"]
    stored = json.loads(ResultStore(tmp_path / "r").path(cell).read_text())
    assert stored["status"] == "failed"  # recorded, never lost silently


def test_ray_workers_get_the_plugins_registered_by_hand(local_ray, tmp_path):
    """A plugin registered in the driver by hand (here the README's, importable on the workers'
    path) is known to the workers: before, such a cell failed as 'worker failed 3 times'."""
    import sys

    sys.path.insert(0, str(PLUGIN_SRC))
    try:
        import benchbox_mean_intensity

        plugins = Plugins(load_entry_points=False)
        plugins.register(benchbox_mean_intensity, name="mean_intensity_by_hand")
        cells = plan(plugins, ["mean_intensity"], ["synthetic"], [0], overrides=SMALL)
        summary = run_grid(cells, plugins, ResultStore(tmp_path / "r"), executor=RayExecutor(max_retries=0))
        assert len(summary.done) == 1 and not summary.failed, summary.failed
    finally:
        sys.path.remove(str(PLUGIN_SRC))
        sys.modules.pop("benchbox_mean_intensity", None)
