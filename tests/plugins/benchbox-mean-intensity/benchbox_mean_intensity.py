"""A whole third-party benchbox plugin: one method, no training loop."""

import numpy as np

import benchbox


class MeanIntensity(benchbox.Method):
    """Distance of an image's mean brightness from that of the normal training images."""

    name = "mean_intensity"
    params = {"power": 1.0}

    def fit(self, train, *, on_epoch=None):
        self.mean_ = train.images.float().mean().item()
        return self

    def score(self, images):
        means = images.float().mean(dim=(1, 2, 3)).numpy()
        return np.abs(means - self.mean_) ** self.power


@benchbox.hookimpl
def benchbox_register_methods(register):
    register(MeanIntensity)
