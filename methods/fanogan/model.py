"""f-AnoGAN networks (Schlegl et al. 2019): generator, WGAN critic and izi_f encoder."""

import torch
from torch import nn

from ..backbone import Decoder, Encoder, init_weights


class FAnoGAN(nn.Module):
    def __init__(self, image_size: int, latent_dim: int, width: int, max_width: int):
        super().__init__()
        self.generator = Decoder(image_size, latent_dim, width, max_width)
        # WGAN-GP's gradient penalty is per sample: no normalisation across a sample's
        # features in the critic (Gulrajani et al. 2017).
        self.critic = Encoder(image_size, 1, width, max_width, norm=False)
        self.encoder = Encoder(image_size, latent_dim, width, max_width)
        init_weights(self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.encoder(x))  # the latent space is [-1, 1]^n
