import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchbox.errors import DataError
from benchbox.metrics import at_threshold, best_f1_threshold, evaluate


def test_hand_computed_example():
    labels = [0, 0, 0, 1, 1, 1]
    scores = [0.1, 0.4, 0.35, 0.8, 0.3, 0.9]
    result = evaluate(labels, scores)
    # pairs (anomalous > normal): 0.8 and 0.9 beat all 3; 0.3 beats 0.1 only -> 7/9
    assert result["auroc"] == pytest.approx(7 / 9)
    best = result["thresholds"]["test_best_f1"]
    # threshold 0.3 flags {0.3,0.35,0.4,0.8,0.9}: tp=3 fp=2 -> F1 6/8; threshold 0.8: tp=2 -> F1 4/5
    assert best["threshold"] == pytest.approx(0.8)
    assert best["f1"] == pytest.approx(0.8)
    assert best["sen"] == pytest.approx(2 / 3) and best["spe"] == pytest.approx(1.0)
    assert best["acc"] == pytest.approx(5 / 6)


def test_at_threshold_counts():
    m = at_threshold([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.6], 0.5)
    assert m == {"threshold": 0.5, "f1": 0.5, "acc": 0.5, "sen": 0.5, "spe": 0.5}


def test_val_threshold_is_applied_to_test():
    result = evaluate([0, 1], [0.0, 1.0], val_labels=[0, 1], val_scores=[0.0, 2.0])
    assert result["thresholds"]["val_best_f1"]["threshold"] == 2.0
    assert result["thresholds"]["val_best_f1"]["sen"] == 0.0


def test_single_class_is_a_clear_error():
    with pytest.raises(DataError, match="both normal"):
        evaluate([0, 0], [0.1, 0.2])


scores_and_labels = st.integers(4, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda l: 0 < sum(l) < len(l)),
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n)))


@settings(max_examples=60, deadline=None)
@given(scores_and_labels)
def test_auroc_properties(data):
    labels, scores = data
    scores = np.asarray(scores)
    auc = evaluate(labels, scores)["auroc"]
    assert 0.0 <= auc <= 1.0
    assert evaluate(labels, np.unique(scores, return_inverse=True)[1] ** 2 + 0.5)["auroc"] == pytest.approx(auc)  # monotone
    assert evaluate(labels, -scores)["auroc"] == pytest.approx(1 - auc)
    assert evaluate(labels, np.zeros_like(scores))["auroc"] == pytest.approx(0.5)  # all ties


@settings(max_examples=60, deadline=None)
@given(scores_and_labels)
def test_best_f1_threshold_is_best(data):
    labels, scores = data
    best = at_threshold(labels, scores, best_f1_threshold(labels, scores))["f1"]
    assert all(at_threshold(labels, scores, t)["f1"] <= best + 1e-12 for t in scores)
