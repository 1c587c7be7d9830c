"""Evaluation metrics and their uncertainty, shared by every paper.

Accuracy, macro-F1, perplexity, Spearman and Pearson correlation, percentile-bootstrap confidence
intervals and the mean ± sample-std summary over seeds used in every report table
(`conventions.md` §2.8). Implemented with numpy only (no sklearn or scipy), so results do not
depend on those libraries' versions; the definitions follow the textbook ones:

- macro-F1 averages the per-class F1 over the union of classes seen in predictions and labels,
  with F1 = 0 for a class whose precision + recall is 0 (sklearn's ``zero_division=0``);
- Spearman's ρ is Pearson's r on the average ranks (ties get the mean of the ranks they span);
- perplexity is exp(mean NLL), with the NLL in nats unless ``base`` says otherwise
  (fairseq logs base-2 losses, ki.md §3).

Inputs may be lists, numpy arrays or torch tensors; torch is never imported here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from thunlp_repro.shared.registry import Registry

MetricFn = Callable[[Any, Any], float]

METRICS: Registry[MetricFn] = Registry("metric")
"""Metric name (lower-kebab) -> ``fn(preds, labels) -> float``."""


def to_numpy(x: Any) -> np.ndarray:
    """Convert a list, numpy array or torch tensor (any device, any dtype) to a numpy array.

    Args:
        x: The values. Tensors are detached and moved to the CPU; bfloat16 and other dtypes
            numpy lacks are upcast to float32 first.

    Returns:
        A numpy array (not necessarily a copy).
    """
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    try:
        return np.asarray(x)
    except TypeError:
        if hasattr(x, "float"):  # e.g. torch.bfloat16, which numpy cannot represent
            return np.asarray(x.float())
        raise


def _class_predictions(preds: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return 1-D (preds, labels); logits/probabilities (one more dim than labels) are argmaxed."""
    p, y = to_numpy(preds), to_numpy(labels)
    if p.ndim == y.ndim + 1:
        p = p.argmax(axis=-1)
    p, y = p.reshape(-1), y.reshape(-1)
    if p.shape != y.shape:
        raise ValueError(f"preds and labels differ in length: {p.shape[0]} vs {y.shape[0]}")
    if p.size == 0:
        raise ValueError("empty preds/labels")
    return p, y


@METRICS.register("accuracy")
def accuracy(preds: Any, labels: Any) -> float:
    """Fraction of predictions equal to the label.

    Args:
        preds: Predicted class ids, shape (N,), or scores of shape (N, C) (argmaxed).
        labels: Gold class ids, shape (N,).

    Returns:
        Accuracy in [0, 1].

    Raises:
        ValueError: the lengths differ or the inputs are empty.
    """
    p, y = _class_predictions(preds, labels)
    return float(np.mean(p == y))


@METRICS.register("macro-f1")
def macro_f1(preds: Any, labels: Any, classes: Sequence[Any] | None = None) -> float:
    """Unweighted mean of the per-class F1 scores.

    Args:
        preds: Predicted class ids, shape (N,), or scores of shape (N, C) (argmaxed).
        labels: Gold class ids, shape (N,).
        classes: Classes to average over; default the union of the values in preds and labels.
            A class with precision + recall = 0 scores F1 = 0.

    Returns:
        Macro-F1 in [0, 1].

    Raises:
        ValueError: the lengths differ or the inputs are empty.
    """
    p, y = _class_predictions(preds, labels)
    cls = np.unique(np.concatenate([p, y])) if classes is None else np.asarray(list(classes))
    f1s = []
    for c in cls:
        tp = float(np.sum((p == c) & (y == c)))
        fp = float(np.sum((p == c) & (y != c)))
        fn = float(np.sum((p != c) & (y == c)))
        # F1 = 2TP / (2TP + FP + FN): the same as 2PR/(P+R), and 0 when TP = FP = FN = 0 is excluded
        denom = 2 * tp + fp + fn
        f1s.append(2 * tp / denom if denom > 0 else 0.0)
    return float(np.mean(f1s))


def perplexity(nll: float, n_tokens: int | None = None, *, base: float = math.e) -> float:
    """Perplexity from a negative log-likelihood: base ** (mean NLL).

    Args:
        nll: The mean NLL per token, or the summed NLL when ``n_tokens`` is given.
        n_tokens: Number of tokens ``nll`` is summed over; None means ``nll`` is already a mean.
        base: Base of the logarithm the NLL was computed in (e for nats, 2 for bits).

    Returns:
        The perplexity; ``inf`` if it overflows a float.

    Raises:
        ValueError: ``n_tokens`` is not positive.
    """
    mean_nll = float(nll)
    if n_tokens is not None:
        if n_tokens <= 0:
            raise ValueError(f"n_tokens must be positive, got {n_tokens}")
        mean_nll = mean_nll / n_tokens
    try:
        return math.exp(mean_nll * math.log(base))
    except OverflowError:
        return math.inf


def perplexity_from_sum(total_nll: float, n_tokens: int, *, base: float = math.e) -> float:
    """Perplexity from a summed NLL and its token count (token-weighted, not batch-weighted).

    Args:
        total_nll: NLL summed over all tokens.
        n_tokens: Number of tokens.
        base: Base of the logarithm the NLL was computed in.

    Returns:
        ``base ** (total_nll / n_tokens)``.
    """
    return perplexity(total_nll, n_tokens, base=base)


def rankdata(x: Any) -> np.ndarray:
    """Ranks 1..N of a 1-D array, ties replaced by the average of the ranks they span.

    Args:
        x: Values (1-D).

    Returns:
        Float ranks, same length as ``x`` (scipy's ``rankdata(method="average")``).
    """
    a = to_numpy(x).reshape(-1)
    n = a.size
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    # start of each run of equal values in the sorted array
    new_run = np.concatenate([[True], sorted_a[1:] != sorted_a[:-1]]) if n else np.array([], bool)
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    ends = np.concatenate([starts[1:], [n]])
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based ranks start+1 .. end
    ranks = np.empty(n, dtype=float)
    ranks[order] = avg[run_id]
    return ranks


def _paired(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    a = to_numpy(x).astype(float).reshape(-1)
    b = to_numpy(y).astype(float).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"x and y differ in length: {a.size} vs {b.size}")
    if a.size < 2:
        raise ValueError("a correlation needs at least 2 pairs")
    return a, b


@METRICS.register("pearson")
def pearson(x: Any, y: Any) -> float:
    """Pearson's correlation coefficient r.

    Args:
        x: First variable (1-D, at least 2 values).
        y: Second variable, same length.

    Returns:
        r in [-1, 1]; NaN when either variable is constant (r is undefined).

    Raises:
        ValueError: the lengths differ or fewer than 2 pairs.
    """
    a, b = _paired(x, y)
    da, db = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(np.dot(da, da)) * float(np.dot(db, db)))
    if denom == 0.0:
        return math.nan
    return float(np.clip(np.dot(da, db) / denom, -1.0, 1.0))


@METRICS.register("spearman")
def spearman(x: Any, y: Any) -> float:
    """Spearman's rank correlation ρ: Pearson's r of the average ranks (handles ties).

    Args:
        x: First variable (1-D, at least 2 values).
        y: Second variable, same length.

    Returns:
        ρ in [-1, 1]; NaN when either variable is constant.

    Raises:
        ValueError: the lengths differ or fewer than 2 pairs.
    """
    a, b = _paired(x, y)
    return pearson(rankdata(a), rankdata(b))


def bootstrap_ci(
    values: Any,
    labels: Any = None,
    metric_fn: MetricFn | str | None = None,
    *,
    statistic: Callable[[np.ndarray], float] | None = None,
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval, resampling examples with replacement.

    Two forms:

    - ``bootstrap_ci(values)``: CI of ``statistic(values)`` (default the mean), e.g. per-seed
      scores or per-example losses;
    - ``bootstrap_ci(preds, labels, metric_fn)``: resample (pred, label) pairs together and
      recompute ``metric_fn(preds, labels)`` (a function or a ``METRICS`` name).

    Rows (axis 0) are resampled, so ``values`` / ``preds`` may also be per-example score arrays.

    Args:
        values: The per-example values, or the predictions in the paired form.
        labels: The labels (paired form only).
        metric_fn: Metric of the paired form; default ``accuracy``.
        statistic: Statistic of the single form; default the mean (vectorised).
        n_resamples: Number of bootstrap resamples.
        alpha: 1 - confidence level (0.05 gives a 95% interval, 0.1 a 90% one).
        seed: Seed of the ``numpy.random.Generator``; the same seed gives the same interval.

    Returns:
        ``(low, high)``, the alpha/2 and 1 - alpha/2 quantiles of the resampled statistic.

    Raises:
        ValueError: empty input, mismatched lengths, or alpha / n_resamples out of range.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    v = to_numpy(values)
    n = v.shape[0] if v.ndim else 0
    if n == 0:
        raise ValueError("bootstrap_ci needs at least one value")

    if labels is not None or metric_fn is not None:
        if labels is None:
            raise ValueError("metric_fn given without labels")
        y = to_numpy(labels)
        if y.shape[0] != n:
            raise ValueError(f"preds and labels differ in length: {n} vs {y.shape[0]}")
        fn = METRICS.get(metric_fn) if isinstance(metric_fn, str) else (metric_fn or accuracy)
        stats = np.empty(n_resamples, dtype=float)
        for i in range(n_resamples):
            idx = rng.integers(0, n, size=n)
            stats[i] = fn(v[idx], y[idx])
    elif statistic is None:
        x = v.astype(float)
        stats = np.empty(n_resamples, dtype=float)
        # chunk so a chunk's index matrix stays around 4M entries, whatever n is
        chunk = max(1, 4_000_000 // n)
        for start in range(0, n_resamples, chunk):
            stop = min(start + chunk, n_resamples)
            idx = rng.integers(0, n, size=(stop - start, n))
            stats[start:stop] = x[idx].reshape(stop - start, -1).mean(axis=1)
    else:
        stats = np.empty(n_resamples, dtype=float)
        for i in range(n_resamples):
            stats[i] = statistic(v[rng.integers(0, n, size=n)])

    low, high = np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def mean_and_spread(values: Any) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof = 1) and count, as reported over seeds.

    Args:
        values: The per-seed values (1-D).

    Returns:
        ``(mean, std, n)``; std is 0.0 for a single value, and ``(nan, nan, 0)`` for no values.
    """
    a = to_numpy(values).astype(float).reshape(-1)
    n = int(a.size)
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if n > 1 else 0.0
    return mean, std, n
