"""The CLI as a user meets it: errors are one clear line, never a traceback."""

import pytest
from click.testing import CliRunner

from benchbox.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBOX_NO_ENTRY_POINTS", "1")
    for var in ("BENCHBOX_OCT_ROOT", "BENCHBOX_CHEST_XRAY_ROOT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        result = CliRunner().invoke(main, list(args))
        assert "Traceback" not in result.output
        return result

    return invoke


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "--methods", "nope"], "unknown method 'nope'; known methods: ae"),
        (["run", "--dataset", "nope"], "unknown dataset 'nope'; known datasets:"),
        (["run", "--methods", "ae[latent=3]"], "ae: unknown parameter 'latent'; valid keys:"),
        (["run", "--methods", "ae", "--param", "ae.widht=3"], "valid keys: batch_size"),
        (["run", "--methods", "ae", "--param", "zz.width=3"], "'zz' is neither a method nor a dataset"),
        (["run", "--methods", "ae[width=abc]"], "ae: parameter 'width' expects int, got 'abc'"),
        (["run", "--methods", "salad[ssl=]"], "malformed parameter 'ssl='"),
        (["run", "--methods", "salad[x=1"], "malformed method entry 'salad[x=1'"),
        (["run", "--methods", "ae", "--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["run", "--methods", "ae", "--batch-size", "-4"], "--batch-size must be a positive integer, got -4"),
        (["run", "--methods", "ae", "--image-size", "48"], "image size 48 is not supported"),
        (["run", "--methods", "ae", "--seeds", "0,x"], "expected comma-separated integers"),
        (["run", "--methods", "ae", "--seeds", "0,0"], "--seeds: seed 0 given more than once"),
        (["run", "--methods", "ae", "--device", "tpu"], "unknown device 'tpu'"),
        (
            ["run", "--methods", "ae", "--checkpoint-every", "0"],
            "--checkpoint-every: expected a positive number of epochs or a duration such as 90s",
        ),
        (["table", "--results-dir", "missing"], "--results-dir missing: no such directory"),
        (
            ["run", "--methods", "ae", "--dataset", "oct", "--data-root", "nowhere/oct"],
            "no data found (nowhere/oct does not exist). Expected layout: ROOT/{train,test[,val]}/{NORMAL,CNV,DME,DRUSEN}",
        ),
        (
            ["run", "--methods", "ae", "--dataset", "chest_xray"],
            "no --data-root given, and $BENCHBOX_CHEST_XRAY_ROOT is not set",
        ),
        (
            ["run", "--methods", "ae", "--param", "synthetic.position=0.5"],
            "synthetic: parameter 'position' must be in [0, 0.3], got 0.5",
        ),
    ],
)
def test_user_mistakes_are_explained(cli, args, expected):
    result = cli(*args)
    assert result.exit_code != 0
    assert expected in result.output


def test_run_then_table_then_resume(cli):
    args = [
        "run",
        "--methods",
        "ae",
        "--seeds",
        "0,1",
        "--epochs",
        "1",
        "--param",
        "synthetic.n_train=32",
        "--param",
        "synthetic.n_test=16",
        "--results-dir",
        "res",
    ]
    first = cli(*args)
    assert first.exit_code == 0, first.output
    assert "| ae" in first.output and "2 run, 0 already done" in first.output
    second = cli(*args)
    assert "0 run, 2 already done" in second.output
    table = cli("table", "--results-dir", "res", "--format", "csv")
    assert table.output.startswith("dataset,method,checkpoint,n") and "synthetic,ae,last epoch,2" in table.output


@pytest.mark.parametrize("grid, rows", [("table3", 4), ("table4", 4), ("table5", 3)])
def test_paper_ablation_grids_run_end_to_end(cli, grid, rows):
    result = cli(
        "run",
        "--grid",
        grid,
        "--seeds",
        "0",
        "--epochs",
        "1",
        "--results-dir",
        "res",
        "--param",
        "synthetic.n_train=32",
        "--param",
        "synthetic.n_test=16",
        "--param",
        "salad.width=8",
        "--param",
        "salad.latent_dim=16",
    )
    assert result.exit_code == 0, result.output
    table_rows = [line for line in result.output.splitlines() if line.startswith("| salad")]
    assert len(table_rows) == rows


def test_preset_values_and_explicit_override(cli):
    from benchbox import grids
    from benchbox.plugins import get_plugins

    assert grids.preset(get_plugins().grid_config(), "paper") == {
        "image_size": 256,
        "epochs": 200,
        "batch_size": 64,
        "seeds": [0, 1, 2],
    }
    result = cli(
        "run",
        "--preset",
        "cpu",
        "--methods",
        "ae",
        "--seeds",
        "0",
        "--epochs",
        "1",
        "--image-size",
        "32",
        "--results-dir",
        "res",
        "--param",
        "synthetic.n_train=32",
        "--param",
        "synthetic.n_test=16",
    )
    assert result.exit_code == 0, result.output
    import json
    from pathlib import Path

    (path,) = Path("res/synthetic").glob("*.json")
    record = json.loads(path.read_text())
    assert record["epochs"] == 1 and record["image_size"] == 32 and record["batch_size"] == 64


def test_unknown_grid_lists_known(cli):
    result = cli("run", "--grid", "table9")
    assert result.exit_code == 2 and "unknown grid 'table9'" in result.output and "table3" in result.output


def test_unwritable_results_dir_is_named(cli, tmp_path):
    (tmp_path / "afile").write_text("")
    result = cli("run", "--methods", "ae", "--results-dir", "afile/res")
    assert result.exit_code != 0 and "--results-dir afile/res: cannot write there" in result.output


def test_corrupt_result_is_reported_by_table(cli, tmp_path):
    args = [
        "run",
        "--methods",
        "ae",
        "--seeds",
        "0,1",
        "--epochs",
        "1",
        "--param",
        "synthetic.n_train=32",
        "--param",
        "synthetic.n_test=16",
        "--results-dir",
        "res",
    ]
    assert cli(*args).exit_code == 0
    victim = sorted((tmp_path / "res" / "synthetic").glob("*.json"))[0]
    victim.write_text('{"status": "ok"}')
    result = cli("table", "--results-dir", "res")
    assert f"res/synthetic/{victim.name}" in result.output and "not a result record" in result.output
    assert "| AE " in result.output and "/2" in result.output  # averaged over 1 of 2, said so


def test_table_of_an_empty_results_dir_fails_and_writes_nothing(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("table", "--results-dir", "empty", "--format", "csv", "-o", "t.csv")
    assert result.exit_code != 0 and "--results-dir empty: no result files there" in result.output
    assert not (tmp_path / "t.csv").exists()


def test_wrong_dataset_tree_is_refused_before_training(cli, tmp_path):
    from PIL import Image

    for cls in ("NORMAL", "CNV"):
        for split in ("train", "test"):
            (tmp_path / "octtree" / split / cls).mkdir(parents=True)
            Image.new("L", (20, 20)).save(tmp_path / "octtree" / split / cls / f"{cls}-1-1.jpeg")
    result = cli(
        "run",
        "--methods",
        "ae",
        "--dataset",
        "chest_xray",
        "--data-root",
        "octtree",
        "--results-dir",
        "res",
        "--epochs",
        "1",
    )
    assert result.exit_code != 0 and "which are not chest_xray's classes (NORMAL, PNEUMONIA)" in result.output
    assert not (tmp_path / "res" / "chest_xray").exists()  # nothing ran


def test_other_data_under_the_same_dataset_name_is_another_experiment(cli, tmp_path):
    """The same command on two OCT trees with other images: the second is run, not reused, and
    the table never averages the two: they are two datasets ("oct (data=...)")."""
    from PIL import Image

    for tree, n_test in (("a", 2), ("b", 3)):
        for split, cls, n in (("train", "NORMAL", 4), ("test", "NORMAL", n_test), ("test", "CNV", 2)):
            (tmp_path / tree / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.new("L", (20, 20), 40 * i).save(tmp_path / tree / split / cls / f"{cls}-{i}-1.jpeg")
    args = [
        "run",
        "--methods",
        "ae",
        "--dataset",
        "oct",
        "--epochs",
        "1",
        "--image-size",
        "16",
        "--seeds",
        "0",
        "--results-dir",
        "res",
        "--cache-dir",
        "cache",
    ]
    assert "1 run, 0 already done" in cli(*args, "--data-root", "a").output
    assert "1 run, 0 already done" in cli(*args, "--data-root", "b").output
    assert "0 run, 1 already done" in cli(*args, "--data-root", "a").output
    table = cli("table", "--results-dir", "res").output
    assert table.count("oct (data=") >= 2 and "| AE (" not in table  # two datasets, never one row


def test_bare_run_runs_the_default_grid_not_every_registered_method(cli, tmp_path):
    """Installed plugins are named to run; a bare run is the default grid, PatchCore included."""
    from benchbox import grids
    from benchbox.plugins import get_plugins

    assert "patchcore" in grids.grid(get_plugins().grid_config(), "default")
    (tmp_path / "g.toml").write_text('[grids.default]\nmethods = ["pca"]\n')
    result = cli(
        "run",
        "--grid-file",
        "g.toml",
        "--seeds",
        "0",
        "--results-dir",
        "r",
        "--param",
        "synthetic.n_train=32",
        "--param",
        "synthetic.n_test=16",
    )
    assert result.exit_code == 0, result.output
    assert [p.name.split("__")[0] for p in (tmp_path / "r" / "synthetic").glob("*.json")] == ["pca"]


def test_small_mistakes_say_what_is_wrong(tmp_path):
    """An empty seed, an empty results folder for report, a data root that does not exist."""
    runner = CliRunner()
    seeds = runner.invoke(main, ["run", "--seeds", "0,,1"])
    assert seeds.exit_code == 2 and "an empty item in '0,,1'" in seeds.output
    (tmp_path / "empty").mkdir()
    report = runner.invoke(main, ["report", "--results-dir", str(tmp_path / "empty")])
    assert report.exit_code == 2 and "no result files there" in report.output
    listed = runner.invoke(main, ["datasets", "--data-root", str(tmp_path / "nowhere")])
    assert listed.exit_code == 0
    assert f"{tmp_path / 'nowhere'} does not exist" in listed.output and "params: normal_class=NORMAL" in listed.output


def test_blank_thresholded_metrics_say_why(tmp_path):
    from benchbox.store import ResultStore

    from .conftest import result_record

    store = ResultStore(tmp_path)
    record = result_record(
        "pca",
        0,
        dataset="chest_xray",
        metrics={"auroc": 0.6, "thresholds": {"test_best_f1": {}}},
        test_set={"hash": "h"},
    )
    store.write(tmp_path / "chest_xray" / "pca__seed0__k.json", record)
    result = CliRunner().invoke(main, ["table", "--results-dir", str(tmp_path), "--threshold", "val_best_f1"])
    assert result.exit_code == 0, result.output
    assert "chest_xray: 1 of 1 runs have no val_best_f1 threshold" in result.output


def test_methods_are_described_in_whole_sentences():
    from benchbox.cli import _summary

    doc = """Self-supervised classifier on ``synthetic``
    anomalies, then a density.

    More detail."""
    assert _summary(doc) == "Self-supervised classifier on synthetic anomalies, then a density."


def test_threads_are_set_and_recorded_with_the_cpu_capability(tmp_path):
    import json

    import torch

    from .conftest import run_cli

    result = run_cli("run", "--methods", "pca", "--seeds", "0", "--threads", "1", "--results-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (path,) = (tmp_path / "synthetic").glob("*.json")
    device = json.loads(path.read_text())["device"]
    assert "1 threads" in device and torch.backends.cpu.get_cpu_capability() in device


def test_dry_run_lists_each_cell_and_loads_nothing(cli, monkeypatch):
    """--dry-run says which cells would run, resume and be skipped, before any data is loaded."""
    from pathlib import Path

    from benchbox.datasets.synthetic import Synthetic
    from benchbox.store import ResultStore

    small = ["--epochs", "1", "--param", "synthetic.n_train=16", "--param", "synthetic.n_test=8", "--results-dir", "r"]
    assert cli("run", "--methods", "pca", "--seeds", "0", *small).exit_code == 0  # pca seed 0: done
    loads = []
    monkeypatch.setattr(Synthetic, "load", lambda self, *a, **k: loads.append(a))
    grid = ["--methods", "pca,ae", "--seeds", "0,1", *small, "--dry-run"]
    result = cli("run", *grid)
    assert result.exit_code == 0, result.output
    lines = {tuple(line.split("\t")[:2]): line.split("\t")[2] for line in result.stdout.splitlines()}
    assert set(lines) == {
        ("skip", "pca · synthetic · seed 0"),  # seed-independent: run once, with the first seed
        ("run", "ae · synthetic · seed 0"),
        ("run", "ae · synthetic · seed 1"),
    }
    assert not loads
    checkpoint = ResultStore("r").checkpoint_path(Path(lines["run", "ae · synthetic · seed 1"]))
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_bytes(b"")  # as a killed run leaves it
    again = cli("run", *grid)
    assert "resume\tae · synthetic · seed 1" in again.stdout and not loads
    assert "dry run: 1 to run, 1 to resume from a checkpoint, 1 already done" in again.output


def test_without_a_terminal_a_cell_reports_its_epochs_as_it_goes(tmp_path):
    """In a log or CI no bar is drawn: a line per cell at the heartbeat's interval instead (0 s
    here: every epoch), with its epoch, losses, time so far and time left."""
    import os

    from .conftest import run_cli

    env = {**os.environ, "BENCHBOX_NO_ENTRY_POINTS": "1", "BENCHBOX_HEARTBEAT_S": "0"}
    result = run_cli("run", "--methods", "ae[width=8]", "--seeds", "0", "--epochs", "2", "--param", "synthetic.n_train=16",
                     "--param", "synthetic.n_test=8", "--results-dir", str(tmp_path), env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    # the label's brackets kept (rich would read "[width=8]" as markup)
    beats = [line for line in result.stderr.splitlines() if line.startswith("ae[width=8] · synthetic · seed 0: epoch")]
    assert [b.split("epoch ")[1].split()[0] for b in beats] == ["1/2", "2/2"]
    assert all("so far, about" in b and " l1=" in b for b in beats)  # AE's loss


def test_every_bad_file_of_every_split_is_named_at_once_before_training(cli, tmp_path):
    """A bad training image and a truncated test image: one message naming both, before
    anything trains; with skip_bad=true, a warning in benchbox's words for each split."""
    from .test_datasets import make_tree

    make_tree(tmp_path / "data", ["train", "test"], ["NORMAL", "CNV"])
    (tmp_path / "data" / "train" / "NORMAL" / "bad-train.jpeg").write_bytes(b"not an image")
    good = (tmp_path / "data" / "test" / "CNV" / "CNV-0.jpeg").read_bytes()
    (tmp_path / "data" / "test" / "CNV" / "cut-test.jpeg").write_bytes(good[: len(good) // 3])
    args = ["run", "--methods", "ae", "--seeds", "0", "--epochs", "1", "--dataset", "folder", "--data-root", "data",
            "--image-size", "32", "--results-dir", "r"]  # fmt: skip
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "bad-train.jpeg" in result.output and "cut-test.jpeg" in result.output
    assert "folder, split train" in result.output and "folder, split test" in result.output
    assert not list(tmp_path.glob("r/*/*.json"))  # nothing trained, nothing recorded
    skipped = cli(*args, "--param", "folder.skip_bad=true")
    assert skipped.exit_code == 0, skipped.output
    assert "warning skipped 1 undecodable file(s):" in skipped.output and "UserWarning" not in skipped.output
