import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchbox.errors import DataError
from benchbox.metrics import at_threshold, best_f1_threshold, evaluate

from .conftest import result_record


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
    assert m == {"threshold": 0.5, "f1": 0.5, "acc": 0.5, "sen": 0.5, "spe": 0.5, "bacc": 0.5}


def test_val_threshold_is_applied_to_test():
    result = evaluate([0, 1], [0.0, 1.0], val_labels=[0, 1], val_scores=[0.0, 2.0])
    assert result["thresholds"]["val_best_f1"]["threshold"] == 2.0
    assert result["thresholds"]["val_best_f1"]["sen"] == 0.0


def test_single_class_is_a_clear_error():
    with pytest.raises(DataError, match="both normal"):
        evaluate([0, 0], [0.1, 0.2])


scores_and_labels = st.integers(4, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda ys: 0 < sum(ys) < len(ys)),
        st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(scores_and_labels)
def test_auroc_properties(data):
    labels, scores = data
    scores = np.asarray(scores)
    auc = evaluate(labels, scores)["auroc"]
    assert 0.0 <= auc <= 1.0
    assert evaluate(labels, np.unique(scores, return_inverse=True)[1] ** 2 + 0.5)["auroc"] == pytest.approx(
        auc
    )  # monotone
    assert evaluate(labels, -scores)["auroc"] == pytest.approx(1 - auc)
    assert evaluate(labels, np.zeros_like(scores))["auroc"] == pytest.approx(0.5)  # all ties


@settings(max_examples=60, deadline=None)
@given(scores_and_labels)
def test_best_f1_threshold_is_best(data):
    labels, scores = data
    best = at_threshold(labels, scores, best_f1_threshold(labels, scores))["f1"]
    assert all(at_threshold(labels, scores, t)["f1"] <= best + 1e-12 for t in scores)


def test_sensitivity_at_95_specificity_and_balanced_accuracy_on_a_known_case():
    from benchbox.metrics import at_threshold, evaluate, sensitivity_at_specificity

    # 20 normals scored 0..19, 10 anomalies scored 18.5, 19.5, 20..27. Specificity ≥ 95% allows
    # one normal flagged: threshold 18.5 flags normal 19 and all 10 anomalies. Specificity 100%:
    # threshold 19.5 finds 9 of 10.
    labels = np.array([0] * 20 + [1] * 10)
    scores = np.array(list(range(20)) + [18.5, 19.5] + list(range(20, 28)), dtype=float)
    assert sensitivity_at_specificity(labels, scores) == pytest.approx(1.0)
    assert sensitivity_at_specificity(labels, scores, 1.0) == pytest.approx(0.9)
    point = at_threshold(labels, scores, 19.5)
    assert point["bacc"] == pytest.approx((point["sen"] + point["spe"]) / 2)
    assert evaluate(labels, scores)["sen_at_95spe"] == pytest.approx(1.0)


def test_tables_show_the_trustworthy_columns_beside_the_papers():
    from benchbox.tables import render

    labels = [0] * 20 + [1] * 10
    scores = list(range(20)) + [17.5, 19.5] + list(range(20, 28))  # SEN@95SPE: 9 of 10
    record = result_record(
        "ae",
        0,
        scores={"labels": labels, "scores": scores},
        metrics={
            "auroc": 0.9,
            "auprc": 0.9,  # a record made before SEN@95SPE was stored
            "thresholds": {"test_best_f1": {"f1": 0.8, "acc": 0.8, "sen": 1.0, "spe": 0.6}},
        },
    )
    text = render([record])
    assert "BACC" in text and "SEN@95SPE" in text
    row = next(line for line in text.splitlines() if line.startswith("| ae"))
    assert "80.00" in row and "90.00" in row  # BACC (1.0 + 0.6)/2, SEN@95SPE from the scores
