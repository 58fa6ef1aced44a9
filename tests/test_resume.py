"""Crash safety: checkpoints, resume with identical scores, locks, atomic files."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from benchbox.checkpoints import Cadence, Checkpointing
from benchbox.conformance import tiny_data
from benchbox.errors import ParamError
from benchbox.plan import plan
from benchbox.plugins import Plugins
from benchbox.runner import run_grid
from benchbox.stopping import Interrupted, StopRequests
from benchbox.store import ResultStore

SMALL = {"width": 8, "max_width": 16, "latent_dim": 8, "batch_size": 16}
PER_METHOD = {"salad": {"patch_width": 8, "mlp_hidden": 8}, "fanogan": {"n_critic": 2}}


@pytest.fixture(scope="module")
def data():
    return tiny_data(32, n_train=48, n_test=24)


@pytest.mark.parametrize("name", ["ae", "salad", "fanogan", "cutpaste", "stfpm", "rd4ad", "simplenet"])
def test_interrupted_fit_resumes_bit_identically(tmp_path, data, name):
    train, test = data
    cls = Plugins(load_entry_points=False).methods.get(name)
    own = name in ("cutpaste", "stfpm", "rd4ad", "simplenet")  # no autoencoder widths
    params = dict({"batch_size": 16} if own else SMALL, epochs=3, **PER_METHOD.get(name, {}))
    expected = cls(**params).fit(train).score(test)

    checkpoint = Checkpointing(str(tmp_path / "state.pt"))
    stop_after = 4 if name == "fanogan" else 2  # f-AnoGAN: inside its second (encoder) phase

    def on_epoch(epoch, total, losses):
        if epoch == stop_after:
            os.kill(os.getpid(), signal.SIGTERM)  # handled: saved after the next step

    with pytest.raises(Interrupted, match="SIGTERM"), StopRequests():  # as the CLI does
        cls(**params).fit(train, on_epoch=on_epoch, checkpoint=checkpoint)
    assert (tmp_path / "state.pt").exists()

    resumed = cls(**params).fit(train, checkpoint=Checkpointing(str(tmp_path / "state.pt")))
    assert np.array_equal(resumed.score(test), expected)


def test_without_stop_requests_a_signal_is_not_swallowed(data):
    """Training outside StopRequests (a library call, a test) leaves SIGINT to the host."""
    cls = Plugins(load_entry_points=False).methods.get("ae")

    def on_epoch(epoch, total, losses):
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt) as caught:
        cls(**SMALL, epochs=3).fit(data[0], on_epoch=on_epoch)
    assert not isinstance(caught.value, Interrupted)  # the default handler's, at once


def test_checkpoint_of_other_parameters_is_ignored(tmp_path, data):
    train, test = data
    cls = Plugins(load_entry_points=False).methods.get("ae")
    cls(**SMALL, epochs=2).fit(train, checkpoint=Checkpointing(str(tmp_path / "state.pt")))
    assert (tmp_path / "state.pt").exists()  # left after epoch 1
    other = cls(**dict(SMALL, epochs=2, lr=1e-3)).fit(train, checkpoint=Checkpointing(str(tmp_path / "state.pt")))
    fresh = cls(**dict(SMALL, epochs=2, lr=1e-3)).fit(train).score(test)
    assert np.array_equal(other.score(test), fresh)


@pytest.mark.parametrize("every, saved", [("1h", False), ("0.001s", True), ("2", False), (1, True)])
def test_checkpoint_every_epochs_or_duration(tmp_path, data, every, saved):
    """Periodic saves after epoch 1 of 2: each epoch, every 2 epochs (none here), or when the
    given time has passed since training started (an hour: none; a millisecond: yes)."""
    method = Plugins(load_entry_points=False).methods.get("ae")(**SMALL, epochs=2)
    method.fit(data[0], checkpoint=Checkpointing(str(tmp_path / "state.pt"), Cadence.parse(every)))
    assert (tmp_path / "state.pt").exists() == saved


@pytest.mark.parametrize("every", ["0", "-2", "10x", "", "s"])
def test_bad_checkpoint_cadence_is_refused_naming_the_option(every):
    with pytest.raises(ParamError, match="--checkpoint-every"):
        Cadence.parse(every)


def test_live_lock_is_respected_and_dead_lock_taken_over(tmp_path):
    plugins = Plugins(load_entry_points=False)
    store = ResultStore(tmp_path)
    overrides = [("synthetic", "n_train", "32"), ("synthetic", "n_test", "16")]
    cells = plan(plugins, ["ae"], ["synthetic"], [0], epochs=1, overrides=overrides, image_size=32)
    path = store.path(cells[0])
    lock = path.parent / ".locks" / f"{path.stem}.lock"
    lock.parent.mkdir(parents=True)
    import socket

    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))  # alive: us
    summary = run_grid(cells, plugins, store)
    assert len(summary.busy) == 1 and not path.exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    summary = run_grid(cells, plugins, store)
    assert len(summary.done) == 1 and path.exists() and not lock.exists()


_ARGS = [
    "run",
    "--methods",
    "salad",
    "--seeds",
    "0",
    "--epochs",
    "6",
    "--param",
    "synthetic.n_train=96",
    "--param",
    "synthetic.n_test=32",
    "--param",
    "salad.width=8",
    "--param",
    "salad.latent_dim=16",
]


def _run(results, env, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "benchbox", *_ARGS, "--results-dir", str(results), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _scores(results):
    (path,) = (results / "synthetic").glob("*.json")
    return json.loads(path.read_text())["scores"]["scores"]


def test_sigkill_mid_training_then_rerun_gives_the_same_scores(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from benchbox.cli import main

    env = dict(os.environ, BENCHBOX_NO_ENTRY_POINTS="1")
    monkeypatch.setenv("BENCHBOX_NO_ENTRY_POINTS", "1")
    reference = CliRunner().invoke(main, _ARGS + ["--results-dir", str(tmp_path / "reference")])  # in-process
    assert reference.exit_code == 0, reference.output

    killed_dir = tmp_path / "killed"
    victim = _run(killed_dir, env)
    checkpoints = killed_dir / "synthetic" / ".checkpoints"
    deadline = time.time() + 300
    while not (checkpoints.exists() and any(checkpoints.glob("*.pt"))):
        assert victim.poll() is None, "finished before a checkpoint was seen"
        assert time.time() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # somewhere inside a later epoch
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not list((killed_dir / "synthetic").glob("*.json"))  # nothing taken for finished

    rerun = _run(killed_dir, env)
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read()
    assert _scores(killed_dir) == _scores(tmp_path / "reference")
    assert not any(checkpoints.glob("*.pt")) and not any((killed_dir / "synthetic" / ".locks").iterdir())


def test_sigterm_saves_state_and_exits_130(tmp_path):
    env = dict(os.environ, BENCHBOX_NO_ENTRY_POINTS="1")
    victim = _run(tmp_path, env)
    checkpoints = tmp_path / "synthetic" / ".checkpoints"
    deadline = time.time() + 300
    while not (checkpoints.exists() and any(checkpoints.glob("*.pt"))):
        assert victim.poll() is None and time.time() < deadline
        time.sleep(0.02)
    victim.send_signal(signal.SIGTERM)
    assert victim.wait(timeout=120) == 130
    assert "Run the same command again to resume" in victim.stderr.read()
    assert any(checkpoints.glob("*.pt"))


def test_stop_requests_defer_inside_a_training_loop_and_interrupt_outside():
    from benchbox import stopping

    previous = signal.getsignal(signal.SIGTERM)
    with StopRequests() as stop:
        with stopping.deferred() as inside:  # a resumable loop: the signal is only noted
            os.kill(os.getpid(), signal.SIGTERM)
            assert inside.requested == "SIGTERM"
            with pytest.raises(Interrupted, match="SIGINT"):  # a second Ctrl-C: at once
                os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(Interrupted, match="SIGTERM"):  # outside a loop: at once
            os.kill(os.getpid(), signal.SIGTERM)
        assert stop is stopping.StopRequests._active
    assert signal.getsignal(signal.SIGTERM) is previous and stopping.StopRequests._active is None
    with stopping.deferred() as none_active:
        assert none_active.requested is None
