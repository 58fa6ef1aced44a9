"""A conformance check every method can be run through (like scikit-learn's check_estimator).

    from benchbox.conformance import check_method
    check_method(MyMethod, epochs=1)

Raises AssertionError naming the broken rule.
"""

from __future__ import annotations

import numpy as np

from .contracts import Method
from .errors import ParamError


def tiny_data(image_size: int = 32, n_train: int = 48, n_test: int = 24):
    from benchbox.datasets.synthetic import Synthetic

    data = Synthetic(n_train=n_train, n_test=n_test, n_val=8)
    return data.load("train", image_size), data.load("test", image_size)


#: Set by the runner only on methods that declare them; so here too (``epochs=1`` is fine for any).
RUNNER_PARAMS = ("epochs", "batch_size", "device")


def check_method(cls: type, image_size: int = 32, **params) -> None:
    """Check the Method contract on a few synthetic images; ``params`` keep it quick."""
    assert issubclass(cls, Method), f"{cls.__name__} must subclass benchbox.Method"
    assert isinstance(cls.name, str) and cls.name.isidentifier(), f"{cls.__name__}.name must be an identifier"
    defaults = cls.param_defaults()
    params = {k: v for k, v in params.items() if k not in RUNNER_PARAMS or k in defaults}
    assert "seed" in defaults, f"{cls.name}: must declare a 'seed' parameter"

    # __init__ only stores parameters; get_params() returns them all.
    assert cls().get_params() == defaults, f"{cls.name}: get_params() of a default instance must equal the defaults"
    method = cls(**params)
    for key, value in params.items():
        assert method.get_params()[key] == value, f"{cls.name}: parameter {key} not stored as given"
    try:
        cls(no_such_parameter_xyz=1)
    except ParamError as error:
        assert "no_such_parameter_xyz" in str(error), f"{cls.name}: unknown-key error must name the key"
    else:
        raise AssertionError(f"{cls.name}: an unknown parameter must raise ParamError")
    assert not [k for k in vars(method) if k.endswith("_") and not k.startswith("_")], \
        f"{cls.name}: __init__ must not set learned attributes (ending in _)"

    train, test = tiny_data(image_size)
    assert method.fit(train) is method, f"{cls.name}.fit must return self"
    scores = method.score(test.images)
    assert isinstance(scores, np.ndarray), f"{cls.name}.score must return a numpy array"
    assert scores.shape == (len(test),), f"{cls.name}.score returned shape {scores.shape}, expected ({len(test)},)"
    assert np.all(np.isfinite(scores)), f"{cls.name}.score returned non-finite scores"

    # Eval mode: a test image's score must not depend on which other images share its batch.
    alone = method.score(test.images[:3])
    assert np.allclose(alone, scores[:3], rtol=1e-4, atol=1e-6), \
        f"{cls.name}: scores depend on the batch (score in eval mode)"
    # Determinism: same seed, same device, same scores.
    again = cls(**params).fit(train).score(test.images)
    assert np.array_equal(again, scores), f"{cls.name}: same seed gave different scores"
