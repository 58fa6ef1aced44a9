"""Convolutional auto-encoder on the shared backbone."""

from torch import nn

from ..backbone import Decoder, Encoder, init_weights


class AutoEncoder(nn.Module):
    def __init__(self, image_size: int, latent_dim: int, width: int, max_width: int):
        super().__init__()
        self.encoder = Encoder(image_size, latent_dim, width, max_width)
        self.decoder = Decoder(image_size, latent_dim, width, max_width)
        init_weights(self)

    def forward(self, x):
        return self.decoder(self.encoder(x))
