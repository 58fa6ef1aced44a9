"""Variational auto-encoder (Kingma & Welling 2014) on the shared backbone."""

import torch
from torch import nn

from ..backbone import Decoder, Encoder, init_weights


class VariationalAutoEncoder(nn.Module):
    def __init__(self, image_size: int, latent_dim: int, width: int, max_width: int):
        super().__init__()
        self.encoder = Encoder(image_size, 2 * latent_dim, width, max_width)  # mean and log-variance
        self.decoder = Decoder(image_size, latent_dim, width, max_width)
        init_weights(self)

    def encode(self, x):
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def forward(self, x):
        """Reconstruction from a reparameterised sample, with the posterior's parameters."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar
