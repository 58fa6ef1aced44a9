import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from benchbox.significance import _auroc_rows, against_chance, paired_bootstrap


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


def classic_paired_bootstrap(labels, a, b, n_boot, seed):
    """The textbook one-level paired bootstrap, with the same random stream as ours."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(labels), (n_boot, len(labels)))
    lab = labels[index].astype(float)
    deltas = _auroc_rows(lab, a[index]) - _auroc_rows(lab, b[index])
    return np.percentile(deltas[np.isfinite(deltas)], [2.5, 97.5])


def test_one_seed_is_the_classic_paired_bootstrap():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 150)
    a, b = rng.normal(size=150) + labels, rng.normal(size=150) + 0.5 * labels
    result = paired_bootstrap([labels], [a], [b], n_boot=500, seed=7)
    low, high = classic_paired_bootstrap(labels, a, b, 500, 7)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((low, high))


def test_identical_seeds_do_not_narrow_the_interval():
    """Three copies of one run carry no more information than the run: the images' sampling
    error is shared by all seeds, so the interval must not shrink (it did, by √3, when each
    seed drew its own resample)."""
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 200)
    a, b = rng.normal(size=200) + labels, rng.normal(size=200) + 0.6 * labels
    one = paired_bootstrap([labels], [a], [b], n_boot=1000)
    three = paired_bootstrap([labels] * 3, [a] * 3, [b] * 3, n_boot=1000)
    assert three["ci_high"] - three["ci_low"] >= 0.999 * (one["ci_high"] - one["ci_low"])


def test_seed_to_seed_variation_widens_the_interval():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 200)
    base = rng.normal(size=200) + labels
    b = rng.normal(size=200) + 0.6 * labels
    steady = paired_bootstrap([labels] * 3, [base] * 3, [b] * 3, n_boot=1000)
    noisy = paired_bootstrap(
        [labels] * 3, [base + rng.normal(scale=s, size=200) for s in (0.1, 1.0, 2.0)], [b] * 3, n_boot=1000
    )
    assert noisy["ci_high"] - noisy["ci_low"] > steady["ci_high"] - steady["ci_low"]


def test_interval_covers_the_true_difference_about_95_percent_of_the_time():
    """Binormal scores with known AUROCs: AUC = Φ(d/√2) for unit-variance classes d apart.
    Draw 200 test sets; the 95% interval should cover the true ΔAUC in roughly 95% of them."""
    from scipy.stats import norm

    d_a, d_b = 1.2, 0.6
    true_delta = norm.cdf(d_a / np.sqrt(2)) - norm.cdf(d_b / np.sqrt(2))
    rng = np.random.default_rng(6)
    covered, draws = 0, 200
    for i in range(draws):
        labels = np.repeat([0, 1], 60)
        shared = rng.normal(size=120)  # correlated methods, as two detectors on one image are
        a = 0.6 * shared + 0.8 * rng.normal(size=120) + d_a * labels
        b = 0.6 * shared + 0.8 * rng.normal(size=120) + d_b * labels
        result = paired_bootstrap([labels], [a], [b], n_boot=400, seed=i)
        covered += result["ci_low"] <= true_delta <= result["ci_high"]
    assert 0.88 <= covered / draws <= 0.99


def test_against_chance_is_the_auroc_minus_a_half_with_an_interval():
    rng = np.random.default_rng(5)
    labels = np.repeat([0, 1], 150)
    strong = [labels + rng.normal(0, 0.5, 300) for _ in range(3)]
    result = against_chance([labels] * 3, strong)
    aurocs = [roc_auc_score(labels, s) for s in strong]
    assert result["delta"] == pytest.approx(np.mean(aurocs) - 0.5)
    assert result["ci_low"] > 0.3 and result["p_value"] < 0.01
    noise = [rng.normal(size=300) for _ in range(3)]  # no signal: the interval holds 0
    result = against_chance([labels] * 3, noise)
    assert result["ci_low"] < 0 < result["ci_high"] and result["p_value"] > 0.05
