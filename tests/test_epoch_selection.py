"""benchmarks/epoch_selection.py: scoring the test set after each epoch leaves training as it
is, covers only the last phase, and the table shows last and best epoch."""

import json

from sklearn.metrics import roc_auc_score

from benchbox.datasets.synthetic import Synthetic
from benchbox.plan import plan
from benchbox.plugins import Plugins

from .conftest import benchmark_script

epoch_selection = benchmark_script("epoch_selection")


def test_last_epoch_is_the_plain_result_and_best_is_the_maximum(tmp_path):
    epoch_selection.main(
        [
            "--dataset",
            "synthetic",
            "--methods",
            "ae",
            "--size",
            "16",
            "--epochs",
            "3",
            "--seeds",
            "0",
            "--device",
            "cpu",
            "--out",
            str(tmp_path),
        ]
    )
    (row,) = json.loads((tmp_path / "epochs.json").read_text())["rows"]
    curve = row["auroc_per_epoch"]
    assert len(curve) == 3
    synthetic = Synthetic()
    train, test = synthetic.load("train", 16), synthetic.load("test", 16)
    plugins = Plugins(load_entry_points=False)
    (cell,) = plan(plugins, ["ae"], ["synthetic"], [0], image_size=16, epochs=3, device="cpu")
    plain = plugins.methods.get("ae")(**cell.method_params).fit(train)  # no scoring between epochs
    assert curve[-1] == roc_auc_score(test.labels, plain.score(test))
    table = (tmp_path / "epochs.md").read_text()
    assert f"| ae | {curve[-1]:.4f} ± 0.0000 | {max(curve):.4f} ± 0.0000 | {max(curve) - curve[-1]:+.4f} |" in table


def test_only_the_last_training_phase_is_scored():
    """f-AnoGAN's WGAN phase has no encoder yet: only its encoder epochs count."""
    synthetic = Synthetic(n_train=64, n_test=32)
    train, test = synthetic.load("train", 16), synthetic.load("test", 16)
    method = Plugins(load_entry_points=False).methods.get("fanogan")(seed=0, epochs=2, batch_size=32)
    assert len(method.phases()) == 2
    assert len(epoch_selection.train_scoring_every_epoch(method, train, test)) == 2
