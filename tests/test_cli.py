"""The CLI as a user meets it: errors are one clear line, never a traceback."""

import pytest
from click.testing import CliRunner

from benchbox.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBOX_NO_ENTRY_POINTS", "1")
    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        result = CliRunner().invoke(main, list(args))
        assert "Traceback" not in result.output
        return result
    return invoke


@pytest.mark.parametrize("args, expected", [
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
    (["run", "--methods", "ae", "--device", "tpu"], "unknown device 'tpu'"),
    (["table", "--results-dir", "missing"], "--results-dir missing: no such directory"),
])
def test_user_mistakes_are_explained(cli, args, expected):
    result = cli(*args)
    assert result.exit_code != 0
    assert expected in result.output


def test_run_then_table_then_resume(cli):
    args = ["run", "--methods", "ae", "--seeds", "0,1", "--epochs", "1", "--param", "synthetic.n_train=32",
            "--param", "synthetic.n_test=16", "--results-dir", "res"]
    first = cli(*args)
    assert first.exit_code == 0, first.output
    assert "| ae" in first.output and "2 run, 0 already done" in first.output
    second = cli(*args)
    assert "0 run, 2 already done" in second.output
    table = cli("table", "--results-dir", "res", "--format", "csv")
    assert table.output.startswith("dataset,method,n") and "synthetic,ae,2" in table.output
