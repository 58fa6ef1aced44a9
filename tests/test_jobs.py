"""--jobs N: cells in worker processes give the results of one process, survive a dead
worker, and stop cleanly on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from benchbox.executors import LocalExecutor
from benchbox.plan import plan
from benchbox.plugins import Plugins
from benchbox.pool_executor import PoolExecutor
from benchbox.runner import run_grid
from benchbox.store import ResultStore

from .conftest import ROOT, fake_distribution, run_cli

CRASHERS = ROOT / "tests" / "plugins" / "benchbox-crashers"

TINY = [
    ("synthetic", "n_train", "48"),
    ("synthetic", "n_test", "24"),
    ("salad", "width", "8"),
    ("salad", "latent_dim", "16"),
    ("salad", "patch_width", "8"),
    ("salad", "mlp_hidden", "16"),
]


def grid(plugins, methods=("ae", "salad"), seeds=(0, 1)):
    return plan(plugins, list(methods), ["synthetic"], list(seeds), epochs=1, batch_size=16, overrides=TINY)


def scores(root):
    records, problems = ResultStore(root).records()
    assert not problems
    return {r["key"]: r["scores"]["scores"] for r in records}


def test_two_jobs_give_the_results_of_one_process(tmp_path):
    plugins = Plugins(load_entry_points=False)
    cells = grid(plugins, seeds=(0,))  # two cells, at once
    summary = run_grid(cells, plugins, ResultStore(tmp_path / "jobs"), executor=PoolExecutor(2, threads=1))
    assert len(summary.done) == 2 and not summary.failed
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what each worker had: the same kernels, the same bits
    try:
        run_grid(cells, plugins, ResultStore(tmp_path / "one"), executor=LocalExecutor())
    finally:
        torch.set_num_threads(threads)
    pooled, single = scores(tmp_path / "jobs"), scores(tmp_path / "one")
    assert pooled.keys() == single.keys() == {c.key for c in cells}
    for key in single:
        np.testing.assert_array_equal(pooled[key], single[key])


def test_a_dead_worker_is_a_failed_cell_and_the_others_finish(tmp_path, monkeypatch):
    """The crashers plugin of the Ray tests, found through its entry point by the workers."""
    site = fake_distribution(tmp_path / "site", "benchbox-crashers", "crashers", "benchbox_crashers")
    monkeypatch.syspath_prepend(str(CRASHERS))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("BENCHBOX_NO_ENTRY_POINTS", raising=False)
    plugins = Plugins()
    cells = grid(plugins, methods=("crash_always", "ae"), seeds=(0,))  # at once
    summary = run_grid(cells, plugins, ResultStore(tmp_path / "r"), executor=PoolExecutor(2, threads=1))
    assert [(c.method, c.seed) for c, _ in summary.failed] == [("crash_always", 0)]
    assert all(r["status"] == "failed" and "worker process died (exit code 1)" in r["error"] for _, r in summary.failed)
    assert [(c.method, c.seed) for c, _ in summary.done] == [("ae", 0)]
    sys.modules.pop("benchbox_crashers", None)


# Ctrl-C; a scheduler or `timeout` (the same StopRequests path; SIGTERM alone: test_resume.py)
@pytest.mark.parametrize("stop", [signal.SIGINT, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)])
def test_ctrl_c_stops_every_worker_and_keeps_what_finished(tmp_path, stop):
    args = [
        sys.executable,
        "-m",
        "benchbox",
        "run",
        "--jobs",
        "2",
        "--methods",
        "ae,salad",
        "--seeds",
        "0",
        "--results-dir",
        str(tmp_path / "r"),
        "--param",
        "synthetic.n_train=48",
        "--param",
        "synthetic.n_test=24",
        "--param",
        "salad.epochs=400",
        "--epochs",
        "1",
        "--image-size",
        "16",
        "--batch-size",
        "16",
    ]
    env = {**os.environ, "BENCHBOX_NO_ENTRY_POINTS": "1"}
    run = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )  # its own process group, as a terminal gives it
    done = tmp_path / "r" / "synthetic"
    deadline = time.monotonic() + 120
    while not list(done.glob("ae__*.json")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert list(done.glob("ae__*.json")), "the quick cell never finished"
    time.sleep(1.5)  # SALAD is training by now
    os.killpg(run.pid, stop)  # to the driver and every worker, as a terminal's Ctrl-C does
    _, stderr = run.communicate(timeout=180)
    assert run.returncode == 130, stderr
    assert "interrupted" in stderr and list(done.glob("ae__*.json"))
    assert not list(done.glob("salad__*.json")) and list((done / ".checkpoints").glob("salad__*"))


def test_jobs_with_ray_is_a_clear_error(tmp_path):
    result = run_cli("run", "--methods", "ae", "--jobs", "2", "--executor", "ray", "--results-dir", str(tmp_path))
    assert result.returncode != 0 and "--gpus-per-run 0.25" in result.stderr


def test_ray_takes_fractional_gpus(monkeypatch):
    """--gpus-per-run 0.25 reaches Ray as each task's num_gpus (four cells share one GPU)."""
    from types import SimpleNamespace

    from benchbox import ray_executor

    asked = {}

    def remote(**resources):
        asked.update(resources)
        return lambda function: SimpleNamespace(remote=None)

    fake = SimpleNamespace(is_initialized=lambda: True, remote=remote)
    monkeypatch.setattr(ray_executor, "_ray", lambda: fake)
    executor = ray_executor.RayExecutor(gpus_per_run=0.25, cpus_per_run=2)
    executor.run([], Plugins(load_entry_points=False), ResultStore("unused"), force=False, checkpoint_every=None,
                 on_start=None, on_epoch=None, on_done=None)  # fmt: skip
    assert asked["num_gpus"] == 0.25 and asked["num_cpus"] == 2
    result = run_cli("run", "--help")
    assert "--gpus-per-run" in result.stdout and "--jobs" in result.stdout


def test_workers_get_the_plugins_registered_by_hand(tmp_path, monkeypatch):
    """The README's plugin registered in-process, as a notebook would: --jobs workers import it
    by its module name instead of failing on an unknown method."""
    from .conftest import PLUGIN_SRC

    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    monkeypatch.setenv("BENCHBOX_NO_ENTRY_POINTS", "1")
    import benchbox_mean_intensity

    plugins = Plugins(load_entry_points=False)
    plugins.register(benchbox_mean_intensity, name="mean_intensity_by_hand")
    cells = grid(plugins, methods=("mean_intensity",), seeds=(0, 1))
    summary = run_grid(cells, plugins, ResultStore(tmp_path / "r"), executor=PoolExecutor(2, threads=1))
    assert len(summary.done) == 2 and not summary.failed
    sys.modules.pop("benchbox_mean_intensity", None)


def test_deterministic_reaches_worker_processes_through_the_environment(monkeypatch):
    """`--deterministic` is set in the CLI's process; a spawned `--jobs` worker only has the
    environment it inherits, and a method's set-up turns the same switches on there."""
    from benchbox.training import DETERMINISTIC_ENV

    monkeypatch.setenv(DETERMINISTIC_ENV, "1")
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    assert not torch.are_deterministic_algorithms_enabled()
    try:
        Plugins(load_entry_points=False).methods.get("ae")(epochs=1).setup(32)
        assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
    finally:
        torch.use_deterministic_algorithms(False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped by init) counts as dead
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


@pytest.mark.slow  # about 3 minutes on the 2-core CPU: two cells of 2,000 epochs, twice
def test_workers_stop_when_their_driver_is_killed_and_a_rerun_completes(tmp_path):
    """kill -9 of the driver of a --jobs 2 grid: no worker trains on, orphaned, holding its
    cell; the same command run again finishes the grid."""
    args = [
        *("run", "--jobs", "2", "--methods", "ae,vae", "--seeds", "0", "--results-dir", str(tmp_path / "r")),
        *("--param", "synthetic.n_train=48", "--param", "synthetic.n_test=24", "--epochs", "2000"),
        *("--image-size", "16", "--batch-size", "16", "--checkpoint-every", "1h"),  # no save per epoch: quick
    ]
    env = {**os.environ, "BENCHBOX_NO_ENTRY_POINTS": "1"}
    driver = subprocess.Popen(
        [sys.executable, "-m", "benchbox", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    locks = tmp_path / "r" / "synthetic" / ".locks"
    deadline = time.monotonic() + 180
    while len(list(locks.glob("*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # both locks written in whole
    pids = [json.loads(lock.read_text())["pid"] for lock in locks.glob("*")]
    assert len(pids) == 2 and all(_alive(pid) for pid in pids), "both workers should be training"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    # A worker saves its state after the current step, then exits; its cell has seconds to go.
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids), "a worker survived its driver"
    rerun = run_cli(*args, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "held by another" not in rerun.stderr and len(list((tmp_path / "r" / "synthetic").glob("*.json"))) == 2
