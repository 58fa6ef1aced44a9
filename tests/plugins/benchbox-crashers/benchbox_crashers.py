"""Test-only plugin: methods whose process dies during fit, to exercise worker failures."""

import os
from pathlib import Path

import numpy as np

import benchbox


class CrashOnce(benchbox.Method):
    """Kills its own process on the first attempt (marked by a file), then works."""

    name = "crash_once"
    params = {"marker": ""}

    def fit(self, train, *, on_epoch=None):
        marker = Path(self.marker)
        if not marker.exists():
            marker.write_text("crashed once")
            os._exit(1)
        self.mean_ = train.images.float().mean().item()
        return self

    def score(self, data):
        return np.abs(data.images.float().mean(dim=(1, 2, 3)).numpy() - self.mean_)


class CrashAlways(benchbox.Method):
    name = "crash_always"

    def fit(self, train, *, on_epoch=None):
        os._exit(1)


@benchbox.hookimpl
def benchbox_register_methods(register):
    register(CrashOnce)
    register(CrashAlways)
