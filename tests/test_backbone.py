import pytest
import torch

from benchbox.errors import ParamError
from benchbox.methods.backbone import Decoder, Encoder, n_layers
from benchbox.methods.salad.model import PatchGAN


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_shapes_at_each_size(size):
    enc, dec = Encoder(size, 16, width=4, max_width=16), Decoder(size, 16, width=4, max_width=16)
    x = torch.zeros(2, 1, size, size)
    z = enc(x)
    assert z.shape == (2, 16)
    assert dec(z).shape == (2, 1, size, size)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == n_layers(size) and all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert PatchGAN(size, 8)(x).ndim == 4


def test_eight_layers_at_256_and_one_channel_in_and_out():
    enc = Encoder(256, 8)
    assert n_layers(256) == 8
    assert next(enc.parameters()).shape[1] == 1  # one-channel input, no triplication
    assert Decoder(256, 8).head[0].out_channels == 1


@pytest.mark.parametrize("size", [8, 48, 100, 2048])
def test_unsupported_sizes_are_refused(size):
    with pytest.raises(ParamError, match=f"image size {size}"):
        n_layers(size)
