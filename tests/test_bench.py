"""The benchmark harness (a script, not a test of speed): it runs, writes its table, and
counts FLOPs as torch's own counter does, also through f-AnoGAN's double backward."""

import json
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench  # noqa: E402


def test_flop_count_matches_torch_counter_and_follows_double_backward():
    cpu = torch.device("cpu")
    ae = bench.prepared("ae", 32, 8, cpu)
    x = ae._input(torch.randint(0, 256, (8, 1, 32, 32), dtype=torch.uint8))
    with FlopCounterMode(display=False) as reference:
        ae.train_step(x)
    assert bench.count_flops("ae", 32, 8, cpu) == reference.get_total_flops()
    # WGAN-GP's penalty: torch's counter refuses it; ours follows it. A critic step runs the
    # critic forward three times, backward three times and once more through the penalty's
    # gradient: about 4.8 times one plain forward and backward of the critic (without the
    # second-order pass it would be about 3).
    fanogan = bench.prepared("fanogan", 32, 8, cpu)
    with FlopCounterMode(display=False) as critic_once:
        fanogan.nets_["fanogan"].critic(x).sum().backward()
    assert bench.count_flops("fanogan", 32, 8, cpu) > 4 * critic_once.get_total_flops()


def test_harness_writes_its_table(tmp_path):
    bench.main(
        [
            "--size",
            "32",
            "--batch",
            "8",
            "--steps",
            "1",
            "--methods",
            "ae,fanogan",
            "--variants",
            "fp32,bf16",
            "--epoch-method",
            "ae",
            "--epoch-images",
            "32",
            "--skip-data",
            "--matmul-seconds",
            "0.2",
            "--out",
            str(tmp_path),
        ]
    )
    result = json.loads((tmp_path / "results.json").read_text())
    assert [(m["method"], m["variant"]) for m in result["methods"]] == [
        ("ae", "fp32"),
        ("ae", "bf16"),
        ("fanogan", "fp32"),
        ("fanogan", "bf16"),
    ]
    assert set(result["matmul_gflop_s"]) == {"fp32", "bf16"}
    assert result["epochs"][0]["images"] == 32 and result["epochs"][0]["epoch_s"] > 0
    table = (tmp_path / "results.md").read_text()
    assert "| fanogan | bf16 |" in table and "One ae epoch (fp32) over 32 images" in table


def test_unknown_variant_is_refused():
    with pytest.raises(SystemExit, match="cannot read 'fp16'"):
        bench.parse_variant("fp16")


def test_heur_variant_is_read_and_leaves_cudnn_autotuner_off_on_cpu():
    assert bench.parse_variant("bf16+heur") == {"precision": "bf16", "channels_last": False, "compile": False}
    bench.prepared("ae", 32, 8, torch.device("cpu"), "bf16+heur")
    assert torch.backends.cudnn.benchmark is False  # only CUDA training turns the autotuner on


def test_sync_variant_makes_ganomaly_read_its_collapse_test_every_step():
    cpu = torch.device("cpu")
    assert bench.prepared("ganomaly", 32, 8, cpu).defer_collapse_check is True
    assert bench.prepared("ganomaly", 32, 8, cpu, "fp32+sync").defer_collapse_check is False


def test_profile_writes_a_table_of_the_step(tmp_path):
    bench.main(["--size", "32", "--batch", "8", "--profile", "ae:fp32", "--out", str(tmp_path)])
    table = (tmp_path / "profile-ae-fp32.txt").read_text()
    assert table.startswith("ae, fp32, 32×32, batch 8, 5 steps on cpu") and "aten::" in table


def test_jobs_throughput_sums_its_workers(tmp_path):
    import jobs_throughput

    jobs_throughput.main(
        ["--method", "ae", "--size", "32", "--batch", "8", "--jobs", "1,2", "--seconds", "0.3", "--out", str(tmp_path)]
    )
    result = json.loads((tmp_path / "jobs-ae.json").read_text())
    assert [r["jobs"] for r in result["rows"]] == [1, 2] and result["rows"][0]["vs_one"] == 1.0
    two = result["rows"][1]
    assert len(two["workers"]) == 2 and two["img_s"] == pytest.approx(sum(w["img_s"] for w in two["workers"]))
    assert "| 2 |" in (tmp_path / "jobs-ae.md").read_text()


def test_gn_variant_computes_what_instance_norm_computes():
    """``gn`` swaps InstanceNorm for GroupNorm(C, C): same outputs, same parameters (the
    optimisers still hold them), so timing it compares kernels, not models."""
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    plain, grouped = bench.prepared("salad", 32, 4, cpu), bench.prepared("salad", 32, 4, cpu, "fp32+gn")
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in grouped.nets_.modules())
    held = {id(p) for o in grouped.optimizers_ for g in o.param_groups for p in g["params"]}
    assert all(id(p) in held for p in grouped.nets_.parameters())
    with torch.no_grad():
        torch.testing.assert_close(
            grouped.nets_["salad"].encoder(x), plain.nets_["salad"].encoder(x), rtol=1e-4, atol=1e-5
        )
