"""STFPM, Student-Teacher Feature Pyramid Matching (Wang, Han, Ding, Huang, BMVC 2021): a student
of the teacher's architecture, untrained, learns to reproduce the frozen teacher's feature
pyramid on normal images; where they disagree is anomalous. See README.md beside this file.
"""

from __future__ import annotations

import torch
from torch import nn

from ..distillation import Distillation, upsampled
from ..pretrained import FeatureNet, parse_levels


class STFPM(Distillation):
    name = "stfpm"
    title = "STFPM"
    citation = r"""@inproceedings{wang2021stfpm,
  author = {Wang, Guodong and Han, Shumin and Ding, Errui and Huang, Di},
  title = {Student-Teacher Feature Pyramid Matching for Anomaly Detection},
  booktitle = {British Machine Vision Conference (BMVC)},
  year = {2021}
}
"""
    params = {
        # The paper's optimiser: SGD, lr 0.4, momentum 0.9, weight decay 1e-4, 100 epochs,
        # batch size 32 (its ResNet-18 at 256×256); no LR schedule is stated.
        "lr": 0.4,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "lr_schedule": "constant",
        "epochs": 100,
        "batch_size": 32,
    }
    ranges = {"momentum": "[0, 1)", "weight_decay": ">= 0"}

    def build(self, image_size):
        self.load_teacher()
        self.nets_["student"] = FeatureNet(self.backbone, parse_levels(self.layers, self.name))
        self.opt_ = torch.optim.SGD(
            self.nets_["student"].parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )
        self.optimizers_.append(self.opt_)

    def distances(self, x) -> list[torch.Tensor]:
        """Per level, ½‖t̂ − ŝ‖² at each position of the channel-normalised maps (paper eq. 1)."""
        teacher = self.teacher_maps(x)
        student = self.nets_["student"].maps(self.teacher_.normalise(x))
        return [
            0.5 * (nn.functional.normalize(t, dim=1) - nn.functional.normalize(s, dim=1)).pow(2).sum(1)
            for t, s in zip(teacher, student)
        ]

    def train_step(self, x):
        # Eq. 2: the mean over positions of each level's distance, summed over levels.
        loss = sum(d.mean() for d in self.distances(x))
        self.opt_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_.step()
        return {"loss": loss.detach()}

    def map_batch(self, x):
        # The levels' maps, upsampled to the image, multiplied (the paper's anomaly map).
        return torch.stack(upsampled(self.distances(x), x.shape[-1])).prod(0)
