"""Every user mistake raises while planning, before anything trains: one message, not one
failed record per cell. The conformance rule holds third-party plugins to the same."""

import pytest

from benchbox import Method
from benchbox.conformance import method_checks
from benchbox.errors import ParamError
from benchbox.plan import plan


@pytest.mark.parametrize(
    "method, dataset_params, message",
    [
        ("pca", {"anomaly_share": "1.5"}, "anomaly_share"),
        ("pca", {"n_train": "1"}, "n_train"),
        ("pca", {"n_test": "0"}, "n_test"),
        ("pca", {"position": "0.5"}, "position"),
        ("pca[n_components=-1]", {}, "n_components"),
        ("knn[k=0]", {}, "k"),
        ("ae[lr=0]", {}, "lr"),
        ("ae[latent_dim=0]", {}, "latent_dim"),
        ("salad[center_lr=2]", {}, "center_lr"),
        ("cutpaste[weights=/no/such.pth]", {}, "/no/such.pth"),
        ("ae[device=tpu9]", {}, "tpu9"),
        ("ae[lr=nan]", {}, "lr"),
    ],
)
def test_bad_values_are_refused_while_planning(plugins, method, dataset_params, message):
    overrides = [("synthetic", k, v) for k, v in dataset_params.items()]
    with pytest.raises(ParamError, match=message):
        plan(plugins, [method], ["synthetic"], [0, 1, 2], overrides=overrides)


def test_a_bad_seed_or_folder_pattern_is_refused_while_planning(plugins, tmp_path):
    with pytest.raises(ParamError, match="seed"):
        plan(plugins, ["pca"], ["synthetic"], [-1])
    with pytest.raises(ParamError, match="--seeds: seed 0 given more than once"):
        plan(plugins, ["pca"], ["synthetic"], [0, 1, 0])
    (tmp_path / "train" / "NORMAL").mkdir(parents=True)
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "train" / "NORMAL" / "a.png")
    with pytest.raises(ParamError, match="group_pattern"):
        plan(plugins, ["pca"], ["folder"], [0], data_root=str(tmp_path), overrides=[("folder", "group_pattern", "(")])


class ChecksInFit(Method):
    """Checks its parameter only once it trains: the mistake that gave one failed record per cell."""

    name = "checks_in_fit"
    params = {"share": 0.5}
    ranges = {}

    def fit(self, train, *, on_epoch=None):
        if not 0 < self.share < 1:
            raise ParamError(f"share must be in (0, 1), got {self.share}")
        return self

    def score(self, data):
        import numpy as np

        return np.zeros(len(data))


def test_the_conformance_rule_catches_a_parameter_checked_only_in_fit():
    (rule,) = [c for c in method_checks(ChecksInFit) if "refused while planning" in str(c)]
    with pytest.raises(AssertionError, match="share.*declares no range"):
        rule()
    ChecksInFit.ranges = {"share": "(0, 1)"}  # declared: refused when built, while planning
    try:
        rule()
    finally:
        ChecksInFit.ranges = {}


def test_a_range_that_allows_everything_is_said_so():
    """``ranges = {"share": "any"}`` is the declaration that every value works: the rule then
    has no bad value to feed and passes, where the same method saying nothing fails it."""
    from benchbox.conformance import invalid_value

    class Free(ChecksInFit):
        name = "free"
        ranges = {"share": "any"}

    class Silent(ChecksInFit):
        name = "silent"
        ranges = {}

    assert invalid_value(Free, "share") is None
    (rule,) = [c for c in method_checks(Free) if "refused while planning" in str(c)]
    rule()  # declared to take any value: nothing to refuse, although fit() would refuse 2.0
    (silent,) = [c for c in method_checks(Silent) if "refused while planning" in str(c)]
    with pytest.raises(AssertionError, match="'share' declares no range"):
        silent()
