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
    bench.main(["--size", "32", "--batch", "8", "--steps", "1", "--methods", "ae,fanogan",
                "--variants", "fp32,bf16", "--epoch-method", "ae", "--epoch-images", "32",
                "--skip-data", "--matmul-seconds", "0.2", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "results.json").read_text())
    assert [(m["method"], m["variant"]) for m in result["methods"]] == [
        ("ae", "fp32"), ("ae", "bf16"), ("fanogan", "fp32"), ("fanogan", "bf16")]
    assert set(result["matmul_gflop_s"]) == {"fp32", "bf16"}
    assert result["epochs"][0]["images"] == 32 and result["epochs"][0]["epoch_s"] > 0
    table = (tmp_path / "results.md").read_text()
    assert "| fanogan | bf16 |" in table and "One ae epoch (fp32) over 32 images" in table


def test_unknown_variant_is_refused():
    with pytest.raises(SystemExit, match="cannot read 'fp16'"):
        bench.parse_variant("fp16")
