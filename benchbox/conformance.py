"""Conformance checks every method and dataset can be run through (like scikit-learn's
``check_estimator``), each check on its own so that a plugin author sees every broken rule:

    from benchbox.conformance import check_method, check_dataset
    check_method(MyMethod, epochs=1)        # AssertionError listing every failing check
    check_dataset(MyDataset, data_root="…")

or one pytest test per check (like scikit-learn's ``parametrize_with_checks``):

    @pytest.mark.parametrize("check", method_checks(MyMethod, epochs=1), ids=str)
    def test_my_method(check):
        check()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
from sklearn.metrics import roc_auc_score

from . import params as _params
from .contracts import Dataset, ImageSet, Method
from .errors import BenchboxError, ParamError
from .experiment import RunSettings
from .plan import checked_dataset, checked_method
from .selection import Selection

#: The planner hands these only to methods that declare them; so do the checks (``epochs=1`` is
#: fine for any method).
RUNNER_PARAMS = tuple(f.name for f in fields(RunSettings))


@dataclass(frozen=True)
class Check:
    """One named rule, runnable on its own: ``check()`` raises AssertionError if it is broken."""

    name: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()

    def __str__(self) -> str:
        return self.name


def tiny_data(image_size: int = 32, n_train: int = 48, n_test: int = 24):
    """A few synthetic images, through the dataset registry as a run would get them."""
    from .plugins import get_plugins

    data = get_plugins().datasets.get("synthetic")(n_train=n_train, n_test=n_test, n_val=8)
    return data.load("train", image_size), data.load("test", image_size)


def invalid_value(cls: type, key: str):
    """A value of parameter ``key`` that ``cls`` must refuse while planning: from its type (bool),
    its choices, its range, or the class's ``invalid_examples``; None where none is declared."""
    default = cls.param_defaults()[key]
    if key in _params.declared_ranges(cls):
        return _params.outside(_params.declared_ranges(cls)[key], type(default))
    if key in _params.declared_invalid_examples(cls):
        return _params.declared_invalid_examples(cls)[key]
    if isinstance(default, bool):
        return "maybe"
    if key in _params.declared_choices(cls):
        return "no-such-choice"
    return None


def _refused_while_planning(cls: type, key: str, build: Callable[[dict], None]) -> None:
    """``build({key: bad})`` must raise a BenchboxError that names the parameter or its value."""
    if key in _params.declared_ranges(cls) and _params.declared_ranges(cls)[key].strip() == "any":
        return  # declared to take every value
    bad = invalid_value(cls, key)
    assert bad is not None, (
        f"{cls.name}: parameter {key!r} declares no range (ranges), choices or invalid "
        f"example (invalid_examples), so nothing shows that a bad value is refused "
        f"while planning; declare one (ranges = {{{key!r}: 'any'}} if every value works)"
    )
    try:
        build({key: bad})
    except BenchboxError as error:
        assert key in str(error) or str(bad) in str(error), (
            f"{cls.name}: {key}={bad!r} was refused, but the message does not name it: {error}"
        )
    else:
        raise AssertionError(
            f"{cls.name}: {key}={bad!r} was accepted while planning (it fails later, "
            f"or not at all); refuse it in ranges, choices or validate()"
        )


def _run_all(checks: list[Check], what: str) -> None:
    failures = []
    for check in checks:
        try:
            check()
        except Exception as error:  # every failure is reported, not only the first
            failures.append(
                f"- {check.name}: {type(error).__name__ + ': ' if not isinstance(error, AssertionError) else ''}{error}"
            )
    if failures:
        raise AssertionError(f"{what}: {len(failures)} of {len(checks)} checks failed:\n" + "\n".join(failures))


# -- methods ----------------------------------------------------------------------------------
def method_checks(cls: type, image_size: int = 32, **params) -> list[Check]:
    """The checks of the Method contract for ``cls``; ``params`` keep the fits quick."""
    params = {k: v for k, v in params.items() if k not in RUNNER_PARAMS or k in cls.param_defaults()}
    fitted: dict = {}

    def fit_and_score():  # shared by the checks that need a trained method, fitted once
        if "scores" not in fitted:
            train, test = tiny_data(image_size)
            method = cls(**params)
            fitted.update(method=method, returned=method.fit(train), train=train, test=test, scores=method.score(test))
        return fitted

    def is_a_method():
        assert issubclass(cls, Method), f"{cls.__name__} must subclass benchbox.Method"
        assert isinstance(cls.name, str) and cls.name.isidentifier(), f"{cls.__name__}.name must be an identifier"

    def declares_seed():
        assert "seed" in cls.param_defaults(), f"{cls.name}: must declare a 'seed' parameter"

    def get_params_returns_the_parameters():
        defaults = cls.param_defaults()
        assert cls().get_params() == defaults, f"{cls.name}: get_params() of a default instance must equal the defaults"
        method = cls(**params)
        for key, value in params.items():
            assert method.get_params()[key] == value, f"{cls.name}: parameter {key} not stored as given"

    def unknown_parameter_is_refused():
        try:
            cls(no_such_parameter_xyz=1)
        except ParamError as error:
            assert "no_such_parameter_xyz" in str(error), f"{cls.name}: unknown-key error must name the key"
        else:
            raise AssertionError(f"{cls.name}: an unknown parameter must raise ParamError")

    def init_only_stores_parameters():
        learned = [k for k in vars(cls(**params)) if k.endswith("_") and not k.startswith("_")]
        assert not learned, f"{cls.name}: __init__ must not set learned attributes (ending in _): {learned}"

    def fit_returns_self():
        state = fit_and_score()
        assert state["returned"] is state["method"], f"{cls.name}.fit must return self"

    def score_is_one_finite_number_per_image():
        state = fit_and_score()
        scores, n = state["scores"], len(state["test"])
        assert isinstance(scores, np.ndarray), f"{cls.name}.score must return a numpy array"
        assert scores.shape == (n,), f"{cls.name}.score returned shape {scores.shape}, expected ({n},)"
        assert np.all(np.isfinite(scores)), f"{cls.name}.score returned non-finite scores"

    def score_does_not_depend_on_the_batch():
        state = fit_and_score()  # eval mode: an image's score is its own
        alone = state["method"].score(state["test"].subset(range(3)))
        assert np.allclose(alone, state["scores"][:3], rtol=1e-4, atol=1e-6), (
            f"{cls.name}: scores depend on the batch (score in eval mode)"
        )

    def same_seed_same_scores():
        state = fit_and_score()
        again = cls(**params).fit(state["train"]).score(state["test"])
        assert np.array_equal(again, state["scores"]), f"{cls.name}: same seed gave different scores"

    def every_bad_parameter_is_refused_while_planning():
        for key in cls.param_defaults():
            _refused_while_planning(cls, key, lambda bad: checked_method(cls, {**params, **bad}, image_size))

    def a_selectable_method_scores_the_checkpoint_it_chose():
        if not getattr(cls, "selectable", False):
            return  # nothing to choose: --select runs it as last
        state = fit_and_score()
        selection = Selection("test", 1, state["test"], "the test split")
        method = cls(**params).fit(state["train"], selection=selection)
        assert selection.curve and selection.best_epoch is not None, (
            f"{cls.name}: fit(selection=...) must call selection.consider(epoch, self) when selection.due(...)"
        )
        auroc = roc_auc_score(state["test"].labels, method.score(state["test"]))
        assert np.isclose(auroc, selection.best_auroc, atol=1e-9), (
            f"{cls.name}: after fit(selection=...) the chosen epoch's checkpoint must be the one scored "
            f"(AUROC {auroc:.6f}, chosen {selection.best_auroc:.6f})"
        )

    def anomaly_maps_are_one_finite_map_per_image_at_the_input_size():
        state = fit_and_score()
        maps = state["method"].anomaly_maps(state["test"])
        if maps is None:
            return  # no map: image level only
        expected = (len(state["test"]), image_size, image_size)
        assert np.shape(maps) == expected, (
            f"{cls.name}.anomaly_maps returned shape {np.shape(maps)}, expected {expected}"
        )
        assert np.all(np.isfinite(maps)), f"{cls.name}.anomaly_maps returned non-finite values"

    rules = [
        is_a_method,
        declares_seed,
        get_params_returns_the_parameters,
        unknown_parameter_is_refused,
        init_only_stores_parameters,
        fit_returns_self,
        score_is_one_finite_number_per_image,
        score_does_not_depend_on_the_batch,
        same_seed_same_scores,
        every_bad_parameter_is_refused_while_planning,
        a_selectable_method_scores_the_checkpoint_it_chose,
        anomaly_maps_are_one_finite_map_per_image_at_the_input_size,
    ]
    label = getattr(cls, "name", None) or cls.__name__
    return [Check(f"{label}: {rule.__name__.replace('_', ' ')}", rule) for rule in rules]


def check_method(cls: type, image_size: int = 32, **params) -> None:
    """Every Method check on a few synthetic images; raises AssertionError listing each failure."""
    _run_all(method_checks(cls, image_size, **params), getattr(cls, "name", None) or cls.__name__)


# -- datasets ---------------------------------------------------------------------------------
def dataset_checks(cls: type, image_size: int = 32, data_root=None, cache_dir=None, **params) -> list[Check]:
    """The checks of the Dataset contract for ``cls`` (with its data at ``data_root``, if any)."""
    loaded: dict = {}

    def make():
        return cls(data_root=data_root, cache_dir=cache_dir, **params)

    def load(split):
        if split not in loaded:
            loaded[split] = make().load(split, image_size)
        return loaded[split]

    def is_a_dataset():
        assert issubclass(cls, Dataset), f"{cls.__name__} must subclass benchbox.Dataset"
        assert isinstance(cls.name, str) and cls.name.isidentifier(), f"{cls.__name__}.name must be an identifier"

    def finds_its_data():
        where, found = make().location()
        assert found, f"{cls.name}: location() says no data at {where}"

    def lists_train_and_test():
        splits = make().splits()
        assert "train" in splits and "test" in splits, f"{cls.name}: splits() must include train and test, got {splits}"

    def splits_are_image_sets():
        for split in make().splits():
            data = load(split)
            assert isinstance(data, ImageSet), f"{cls.name}.load({split!r}) must return an ImageSet"
            assert tuple(data.images.shape[1:]) == (1, image_size, image_size), (
                f"{cls.name}.load({split!r}) gave images of shape {tuple(data.images.shape)}, expected N×1×{image_size}×{image_size}"
            )
            assert len(set(data.ids)) == len(data.ids), f"{cls.name}.load({split!r}): ids must be unique"

    def train_is_normal_test_has_both():
        assert len(load("train")) and not load("train").labels.any(), f"{cls.name}: train must hold normal images only"
        assert set(load("test").labels.tolist()) == {0, 1}, f"{cls.name}: test must hold normal and anomalous images"

    def same_parameters_same_images():
        again = make().load("test", image_size)
        assert again.ids == load("test").ids and bool((again.images == load("test").images).all()), (
            f"{cls.name}: the same parameters gave other test images"
        )

    def unknown_split_is_refused():
        try:
            make().load("no_such_split", image_size)
        except BenchboxError as error:
            assert "no_such_split" in str(error), f"{cls.name}: an unknown split's error must name it"
        else:
            raise AssertionError(f"{cls.name}: loading an unknown split must raise a BenchboxError")

    def masks_where_given_mark_anomalous_pixels_only():
        for split in make().splits():
            data = load(split)
            if data.masks is None:
                continue
            assert set(np.unique(data.masks.numpy()).tolist()) <= {0, 1}, f"{cls.name}: masks must be 0 or 1"
            normal = np.nonzero(data.labels == 0)[0]
            assert not data.masks[normal].any(), f"{cls.name}.load({split!r}): a normal image's mask must be empty"

    def every_bad_parameter_is_refused_while_planning():
        for key in cls.param_defaults():
            _refused_while_planning(
                cls,
                key,
                lambda bad: checked_dataset(cls(data_root=data_root, cache_dir=cache_dir, **{**params, **bad})),
            )

    rules = [
        is_a_dataset,
        finds_its_data,
        lists_train_and_test,
        splits_are_image_sets,
        train_is_normal_test_has_both,
        same_parameters_same_images,
        unknown_split_is_refused,
        masks_where_given_mark_anomalous_pixels_only,
        every_bad_parameter_is_refused_while_planning,
    ]
    label = getattr(cls, "name", None) or cls.__name__
    return [Check(f"{label}: {rule.__name__.replace('_', ' ')}", rule) for rule in rules]


def check_dataset(cls: type, image_size: int = 32, data_root=None, cache_dir=None, **params) -> None:
    """Every Dataset check; raises AssertionError listing each failure."""
    _run_all(
        dataset_checks(cls, image_size, data_root, cache_dir, **params), getattr(cls, "name", None) or cls.__name__
    )
