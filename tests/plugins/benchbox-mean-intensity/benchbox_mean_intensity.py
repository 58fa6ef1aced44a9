import numpy as np

import benchbox


class MeanIntensity(benchbox.Method):
    """Distance of an image's mean brightness from that of the normal training images."""

    name = "mean_intensity"
    params = {"power": 1.0}  # keyword parameters and their defaults (types from them)
    ranges = {"power": "> 0"}  # allowed values, checked before anything trains

    def fit(self, train, *, on_epoch=None):  # train: ImageSet of normal images only
        self.mean_ = train.images.float().mean().item()  # learned state ends in _
        return self

    def score(self, data):  # ImageSet -> (N,), higher = more anomalous
        means = data.images.float().mean(dim=(1, 2, 3)).numpy()  # images: uint8 N×1×H×W
        return np.abs(means - self.mean_) ** self.power


@benchbox.hookimpl
def benchbox_register_methods(register):
    register(MeanIntensity)
