"""ResNet backbones from torchvision (He et al. 2016), for the methods that learn a classifier
(CutPaste) or borrow ImageNet features (PatchCore). benchbox never downloads: weights come from
a file the user names, and a run records the file's SHA-256."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from benchbox.digests import file_sha256
from benchbox.errors import ParamError

ARCHS = ("resnet18", "wide_resnet50_2")
#: Torchvision's ImageNet normalisation, for grey images repeated on the three channels.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def resnet(arch: str, in_channels: int = 3) -> nn.Module:
    """An untrained torchvision ResNet without its classifier (``fc`` is the identity), so
    that it maps an image to its pooled features; ``in_channels`` sets the first convolution."""
    if arch not in ARCHS:
        raise ParamError(f"unknown backbone {arch!r}; choose one of {', '.join(ARCHS)}")
    model = getattr(torchvision.models, arch)(weights=None)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, model.conv1.out_channels, 7, 2, 3, bias=False)
    model.fc = nn.Identity()
    return model


def check_weights_file(path: str, owner: str) -> None:
    """While planning: the weights file a method names exists."""
    if not Path(path).is_file():
        raise ParamError(f"{owner}: weights file {path!r} does not exist")


def load_weights(model: nn.Module, path: str, owner: str) -> str:
    """Load a torchvision state dict (its ``fc.*`` entries are ignored) into ``model``;
    returns the file's SHA-256. Errors name the file and say what was expected."""
    check_weights_file(path, owner)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ParamError(f"{owner}: cannot read weights file {path!r} as a PyTorch state dict ({error})") from None
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    conv1 = state.get("conv1.weight")
    if conv1 is not None and conv1.shape[1] == 3 and model.conv1.in_channels == 1:
        # RGB filters on a grey image repeated on the three channels = their sum on one channel.
        state["conv1.weight"] = conv1.sum(1, keepdim=True)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[1:2] or [str(error)]
        raise ParamError(f"{owner}: {path!r} is not a state dict of this backbone: {first[0].strip()}") from None
    return file_sha256(path)
