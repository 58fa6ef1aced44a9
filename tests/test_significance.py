import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from benchbox.significance import _auroc_rows, paired_bootstrap


def test_rank_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = rng.integers(0, 5, 200).astype(float)  # many ties
    assert _auroc_rows(labels[None], scores[None])[0] == pytest.approx(roc_auc_score(labels, scores))


def test_identical_scores_show_no_difference():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + labels
    result = paired_bootstrap([labels], [scores], [scores.copy()])
    assert result["delta"] == 0.0 and result["p_value"] == 1.0 and result["ci_low"] == result["ci_high"] == 0.0


def test_perfect_versus_random_is_significant():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 100)
    perfect = labels + rng.uniform(0, 0.5, 200)
    random = rng.normal(size=200)
    result = paired_bootstrap([labels, labels], [perfect, perfect], [random, rng.normal(size=200)])
    assert result["delta"] > 0.3 and result["ci_low"] > 0.3 and result["p_value"] < 0.01
    assert result["n_seeds"] == 2
