"""Metrics against hand-computed values: accuracy, macro-F1, perplexity, correlations, CIs."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from thunlp_repro.shared.metrics import (
    METRICS,
    accuracy,
    bootstrap_ci,
    macro_f1,
    mean_and_spread,
    pearson,
    perplexity,
    perplexity_from_sum,
    rankdata,
    spearman,
    to_numpy,
)


def test_accuracy_lists_arrays_tensors_and_logits():
    assert accuracy([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
    assert accuracy(np.array([2, 2]), np.array([2, 1])) == 0.5
    assert accuracy(torch.tensor([1, 0, 1]), torch.tensor([1, 1, 1])) == pytest.approx(2 / 3)
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(logits, [1, 0, 0]) == pytest.approx(2 / 3)
    assert accuracy(torch.tensor([1.0, 0.0], dtype=torch.bfloat16), [1, 1]) == 0.5


def test_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="length"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [])


def test_macro_f1_small_confusion():
    # preds [0,0,1,1,2] vs labels [0,1,1,1,2]:
    # class 0: TP1 FP1 FN0 -> F1 2/3; class 1: TP2 FP0 FN1 -> 4/5; class 2: TP1 -> 1
    assert macro_f1([0, 0, 1, 1, 2], [0, 1, 1, 1, 2]) == pytest.approx((2 / 3 + 4 / 5 + 1) / 3)


def test_macro_f1_class_only_in_preds_counts_zero_and_explicit_classes():
    # class 2 is predicted but never gold: F1 0 (sklearn's zero_division=0 convention)
    assert macro_f1([0, 2], [0, 1]) == pytest.approx((1 + 0 + 0) / 3)
    # a class absent from both scores 0 only when asked for explicitly
    assert macro_f1([0, 1], [0, 1]) == 1.0
    assert macro_f1([0, 1], [0, 1], classes=[0, 1, 2]) == pytest.approx(2 / 3)


def test_perplexity_forms():
    assert perplexity(2.0) == pytest.approx(math.exp(2.0))
    assert perplexity(20.0, n_tokens=10) == pytest.approx(math.exp(2.0))
    assert perplexity_from_sum(20.0, 10) == pytest.approx(math.exp(2.0))
    assert perplexity(3.0, base=2) == pytest.approx(8.0)  # fairseq-style base-2 loss
    assert perplexity(1e6) == math.inf
    nll = np.array([1.2, 0.7, 2.1])
    assert perplexity(nll.mean()) == pytest.approx(math.exp(nll.mean()))
    with pytest.raises(ValueError):
        perplexity(1.0, n_tokens=0)


def test_rankdata_average_ties():
    np.testing.assert_array_equal(rankdata([10, 20, 20, 30, 20]), [1, 3, 3, 5, 3])
    np.testing.assert_array_equal(rankdata([3, 1, 2]), [3, 1, 2])


def test_spearman_with_ties_matches_textbook_value():
    # ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]; centred: [-1.5, 0, 0, 1.5], [-1.5, .5, -.5, 1.5]
    # rho = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10))


def test_spearman_without_ties_matches_rank_difference_formula():
    x = [3.1, 0.5, 2.2, 9.0, 4.4]
    y = [1.0, 2.0, 0.0, 5.0, 3.0]
    d = rankdata(x) - rankdata(y)
    n = len(x)
    assert spearman(x, y) == pytest.approx(1 - 6 * float(np.sum(d**2)) / (n * (n**2 - 1)))
    assert spearman(x, [v**3 for v in x]) == pytest.approx(1.0)  # monotone transform


def test_pearson_values():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [-1, -3, -5]) == pytest.approx(-1.0)
    # centred [-1, 0, 1] and [-1, 1, 0]: r = 1 / 2
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError):
        pearson([1], [1])
    with pytest.raises(ValueError):
        pearson([1, 2], [1, 2, 3])


def test_mean_and_spread():
    mean, std, n = mean_and_spread([0.8, 0.824])
    assert (mean, n) == (pytest.approx(0.812), 2)
    assert std == pytest.approx(np.std([0.8, 0.824], ddof=1))
    assert mean_and_spread([0.5]) == (0.5, 0.0, 1)
    m, s, k = mean_and_spread([])
    assert k == 0 and math.isnan(m) and math.isnan(s)


def test_bootstrap_ci_contains_estimate_and_is_deterministic():
    values = np.random.default_rng(1).normal(0.7, 0.1, size=100)
    low, high = bootstrap_ci(values, seed=3)
    assert low < values.mean() < high
    assert bootstrap_ci(values, seed=3) == (low, high)
    assert bootstrap_ci(values, seed=4) != (low, high)


def test_bootstrap_ci_narrows_with_more_data():
    rng = np.random.default_rng(0)
    small = rng.normal(size=20)
    large = rng.normal(size=2000)
    w_small = np.subtract(*bootstrap_ci(small)[::-1])
    w_large = np.subtract(*bootstrap_ci(large)[::-1])
    assert 0 < w_large < w_small / 3  # width ~ 1/sqrt(n): about 10x narrower


def test_bootstrap_ci_paired_form():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, size=300)
    preds = np.where(rng.random(300) < 0.7, labels, rng.integers(0, 3, size=300))
    acc = accuracy(preds, labels)
    low, high = bootstrap_ci(preds, labels, "accuracy", n_resamples=300, seed=1)
    assert low < acc < high
    assert (low, high) == bootstrap_ci(preds, labels, accuracy, n_resamples=300, seed=1)
    f1_low, f1_high = bootstrap_ci(preds, labels, macro_f1, n_resamples=300, alpha=0.1)
    assert f1_low < macro_f1(preds, labels) < f1_high
    # tensors behave like arrays
    t = bootstrap_ci(torch.tensor(preds), torch.tensor(labels), "accuracy", n_resamples=300, seed=1)
    assert t == (low, high)


def test_bootstrap_ci_custom_statistic_and_edge_cases():
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    low, high = bootstrap_ci(values, statistic=np.median, n_resamples=500)
    assert 1.0 <= low <= 3.0 <= high <= 100.0
    assert bootstrap_ci([0.4]) == (0.4, 0.4)
    with pytest.raises(ValueError):
        bootstrap_ci([])
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 2.0], alpha=1.5)
    with pytest.raises(ValueError):
        bootstrap_ci([1, 0], metric_fn=accuracy)


def test_bootstrap_vectorised_mean_matches_explicit_loop():
    values = np.random.default_rng(2).random(37)
    fast = bootstrap_ci(values, n_resamples=200, seed=9)
    slow = bootstrap_ci(values, statistic=lambda s: float(np.mean(s)), n_resamples=200, seed=9)
    assert fast == pytest.approx(slow)


def test_registry_names():
    assert {"accuracy", "macro-f1", "pearson", "spearman"} <= set(METRICS.keys())
    assert METRICS.get("macro-f1") is macro_f1
    assert METRICS.get("accuracy")([1, 0], [1, 1]) == 0.5


def test_to_numpy_from_tensor_with_grad():
    t = torch.ones(3, requires_grad=True) * 2
    np.testing.assert_array_equal(to_numpy(t), [2.0, 2.0, 2.0])


def test_module_does_not_import_torch():
    code = (
        "import sys, thunlp_repro.shared.metrics, thunlp_repro.shared.reporting; "
        "bad = [m for m in ('torch', 'matplotlib', 'matplotlib.pyplot') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
