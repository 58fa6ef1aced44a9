"""Datasets are named as they are published (BrainTumor, a BMAD folder's name), never by the
layout that reads them; one name over two data trees is told apart, never merged."""

import json

import pytest
from click.testing import CliRunner

from benchbox.cli import main
from benchbox.datasets.folder import OCT, FolderDataset
from benchbox.datasets.medianomaly import MedIAnomaly
from benchbox.store import ResultStore
from benchbox.tables import dataset_names

from .conftest import result_record
from .test_datasets import make_tree
from .test_localisation import medianomaly_tree


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setenv("BENCHBOX_NO_ENTRY_POINTS", "1")

    def invoke(*args):
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result

    return invoke


def test_medianomaly_is_named_by_its_folder_in_medianomaly_spelling(tmp_path):
    assert MedIAnomaly(data_root=medianomaly_tree(tmp_path / "brain_tumor")).display_name() == "BrainTumor"
    assert MedIAnomaly(data_root=medianomaly_tree(tmp_path / "My-Scans")).display_name() == "My-Scans"
    named = medianomaly_tree(tmp_path / "x")
    index = json.loads((named / "data.json").read_text())
    (named / "data.json").write_text(json.dumps({**index, "name": "RSNA"}))
    assert MedIAnomaly(data_root=named).display_name() == "RSNA"


def test_generic_folder_is_named_by_its_root_and_named_plugins_keep_their_name(tmp_path):
    make_tree(tmp_path / "BraTS2021", ["train", "test"], ["good", "Ungood"])
    assert FolderDataset(data_root=tmp_path / "BraTS2021", normal_class="good").display_name() == "BraTS2021"
    make_tree(tmp_path / "kermany", ["train", "test"], ["NORMAL", "CNV"])
    assert OCT(data_root=tmp_path / "kermany").display_name() == "oct"


def _run(cli, root, results, *extra):
    return cli(
        "run", "--dataset", "folder", "--data-root", root, "--param", "folder.normal_class=good",
        "--methods", "pca", "--seeds", "0", "--image-size", "32", "--results-dir", results,
        "--threads", "1", *extra,
    )  # fmt: skip


def test_two_trees_in_one_results_folder_get_their_own_sections_and_files(tmp_path, cli):
    make_tree(tmp_path / "LGG", ["train", "test"], ["good", "tumour"])
    make_tree(tmp_path / "OCT2017", ["train", "test"], ["good", "CNV"], n=4)
    results = tmp_path / "results"
    _run(cli, tmp_path / "LGG", results)
    _run(cli, tmp_path / "OCT2017", results)
    records, _ = ResultStore(results).records()
    assert sorted(r["dataset_name"] for r in records) == ["LGG", "OCT2017"]
    assert {r["dataset"] for r in records} == {"folder"}  # the layout stays in the record
    out = tmp_path / "report"
    cli("report", "--results-dir", results, "--out", out)
    index = (out / "index.md").read_text()
    assert "## LGG" in index and "## OCT2017" in index and "folder-table1" not in index
    assert (out / "LGG-table1.md").is_file() and (out / "OCT2017-table1.md").is_file()
    table = cli("table", "--results-dir", results).output
    assert "LGG" in table and "OCT2017" in table


def test_one_name_over_two_trees_is_told_apart_never_merged(tmp_path, cli):
    make_tree(tmp_path / "a" / "data", ["train", "test"], ["good", "bad"])
    make_tree(tmp_path / "b" / "data", ["train", "test"], ["good", "bad"], n=4)
    results = tmp_path / "results"
    _run(cli, tmp_path / "a" / "data", results)
    _run(cli, tmp_path / "b" / "data", results)
    records, _ = ResultStore(results).records()
    names = dataset_names(records)
    assert len(set(names)) == 2 and all(n.startswith("data (data=") for n in names)
    assert dataset_names([{**r, "dataset_name": n} for r, n in zip(records, names)]) == names  # idempotent
    out = tmp_path / "report"
    cli("report", "--results-dir", results, "--out", out)
    index = (out / "index.md").read_text()
    assert sum(line.startswith("## data (data=") for line in index.splitlines()) == 2


def test_a_name_parameter_renames_without_changing_the_key(tmp_path, cli):
    make_tree(tmp_path / "scans", ["train", "test"], ["good", "bad"])
    results = tmp_path / "results"
    _run(cli, tmp_path / "scans", results)
    (before,), _ = ResultStore(results).records()
    assert before["dataset_name"] == "scans"
    again = _run(cli, tmp_path / "scans", results, "--param", "folder.name=Retina 2024")
    assert "0 run, 1 already done" in again.output
    (after,), _ = ResultStore(results).records()
    assert after["key"] == before["key"] and after["created"] == before["created"]  # not run again
    assert after["dataset_name"] == "Retina 2024"


def test_old_records_without_a_name_are_named_by_their_plugin():
    records = [result_record("ae", 0, dataset="medianomaly"), result_record("ae", 1, dataset="medianomaly")]
    assert dataset_names(records) == ["medianomaly", "medianomaly"]
    parameters = [dict(r, experiment={**r["experiment"], "dataset_params": {"protocol": p}}) for r, p in
                  zip(records, ("dev", "official"))]  # fmt: skip
    assert dataset_names(parameters) == ["medianomaly (protocol='dev')", "medianomaly (protocol='official')"]
