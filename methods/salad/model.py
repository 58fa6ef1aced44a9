"""SALAD networks: encoder M_E, decoders M_D and M'_D, discriminators D_I (PatchGAN) and D_F (MLP)."""

from __future__ import annotations

from torch import nn

from ..backbone import Decoder, Encoder, init_weights, n_layers

SSL_MODES = ("none", "shared_encoder", "shared_encoder_decoder", "shared_encoder_last_layers")


class PatchGAN(nn.Module):
    """PatchGAN discriminator (Isola et al. 2017): a map of real/fake logits, one per patch.
    ``n_layers`` stride-2 convolutions (3 at 256×256, fewer for small images), then two
    stride-1 convolutions; no output activation (least-squares loss)."""

    def __init__(self, image_size: int, width: int = 64, n_down: int = 3):
        super().__init__()
        n_down = max(1, min(n_down, n_layers(image_size) - 3))
        layers: list[nn.Module] = [nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        channels = width
        for i in range(1, n_down):
            out = min(width * 2**i, width * 8)
            layers += [
                nn.Conv2d(channels, out, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(out, affine=True),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels = out
        out = min(channels * 2, width * 8)
        layers += [
            nn.Conv2d(channels, out, 4, 1, 1, bias=False),
            nn.InstanceNorm2d(out, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(out, 1, 4, 1, 1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class FeatureDiscriminator(nn.Module):
    """D_F: an MLP on latent vectors."""

    def __init__(self, latent_dim: int, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, 1),
        )

    def forward(self, z):
        return self.net(z)


class SALADNets(nn.Module):
    """Every network of SALAD; ``restorer`` is M'_D as chosen by ``ssl`` (Table IV):

    - ``none``: no self-supervised module (no M'_D);
    - ``shared_encoder`` (SALAD): M'_D has its own weights, M_E is shared;
    - ``shared_encoder_decoder``: M'_D *is* M_D;
    - ``shared_encoder_last_layers``: M'_D shares its last ``shared_layers`` layers with M_D.
    """

    def __init__(
        self,
        image_size: int,
        latent_dim: int,
        width: int,
        max_width: int,
        ssl: str,
        shared_layers: int = 2,
        patch_width: int = 64,
        mlp_hidden: int = 256,
        first_norm: bool = True,
    ):
        super().__init__()
        self.encoder = Encoder(image_size, latent_dim, width, max_width, first_norm=first_norm)
        self.decoder = Decoder(image_size, latent_dim, width, max_width)
        self.image_disc = PatchGAN(image_size, patch_width)
        self.feature_disc = FeatureDiscriminator(latent_dim, mlp_hidden)
        init_weights(self)
        restorer = None
        if ssl in ("shared_encoder", "shared_encoder_last_layers"):
            restorer = Decoder(image_size, latent_dim, width, max_width)
            init_weights(restorer)
        if ssl == "shared_encoder_decoder":
            restorer = self.decoder
        elif ssl == "shared_encoder_last_layers":
            share_last_layers(restorer, self.decoder, shared_layers)
        self.restorer = restorer

    def generator_modules(self) -> list[nn.Module]:
        mods = [self.encoder, self.decoder]
        if self.restorer is not None and self.restorer is not self.decoder:
            mods.append(self.restorer)
        return mods


def share_last_layers(target, source, count: int) -> None:
    """Make the last ``count`` (transposed-convolution) layers of decoder ``target`` the
    very modules of ``source``: the output layer, then hidden blocks from the end."""
    if count < 1:
        return
    target.head = source.head
    blocks = len(target.hidden) // 3  # (conv, norm, activation) per hidden layer
    for i in range(min(count - 1, blocks)):
        for j in range(3):
            position = len(target.hidden) - 3 * (i + 1) + j
            target.hidden[position] = source.hidden[position]
