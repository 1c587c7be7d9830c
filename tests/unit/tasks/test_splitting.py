"""Splitting logic on small synthetic label lists we made up (no source rows)."""

from __future__ import annotations

from collections import Counter

import pytest

from thunlp_repro.shared.tasks.splitting import (
    SPLITS,
    balanced_quota,
    largest_remainder,
    split_indices,
    stable_hash,
    stable_order,
)


def _labels(counts: list[int]) -> list[int]:
    return [c for c, n in enumerate(counts) for _ in range(n)]


def _by_class(indices, labels):
    return Counter(labels[i] for i in indices)


def test_stable_hash_and_order_are_deterministic():
    assert stable_hash("a", 1) == stable_hash("a", 1)
    assert stable_hash("a", 1) != stable_hash("a", 2)
    keys = [f"k{i}" for i in range(50)]
    assert stable_order(keys, "s", 13) == stable_order(keys, "s", 13)
    assert stable_order(keys, "s", 13) != stable_order(keys, "s", 14)
    assert sorted(stable_order(keys, "s", 13)) == list(range(50))


def test_largest_remainder_and_balanced_quota():
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(largest_remainder(500, [86, 1153, 1245, 1215, 824, 858])) == 500
    assert largest_remainder(5, [0, 0]) == [0, 0]
    assert balanced_quota(500, 3) == [167, 167, 166]
    assert balanced_quota(450, 5) == [90] * 5


def test_balanced_split_sizes_and_balance():
    labels = _labels([900, 400])
    plan = split_indices(labels, (2000, 100, 100), seed=13, num_classes=2)
    assert plan.mode == "balanced"
    assert _by_class(plan.indices["test"], labels) == {0: 50, 1: 50}
    assert _by_class(plan.indices["dev"], labels) == {0: 50, 1: 50}
    assert len(plan.indices["train"]) == 1300 - 200  # the rest, under the cap
    allidx = [i for s in SPLITS for i in plan.indices[s]]
    assert len(allidx) == len(set(allidx))


def test_train_cap_is_stratified():
    labels = _labels([3000, 1000])
    plan = split_indices(labels, (400, 100, 100), seed=1, num_classes=2)
    train = _by_class(plan.indices["train"], labels)
    assert sum(train.values()) == 400
    # the rest is 2900 : 900, so the cap keeps about that ratio
    assert train[0] == round(400 * 2900 / 3800)


def test_auto_falls_back_to_stratified_for_a_rare_class():
    labels = _labels([20, 500, 480])  # class 0 cannot give 2 x (34 + 34)
    plan = split_indices(labels, (500, 100, 100), seed=3, num_classes=3)
    assert plan.mode == "stratified"
    test = _by_class(plan.indices["test"], labels)
    assert sum(test.values()) == 100
    assert test[0] == 2  # 100 * 20 / 1000


def test_balanced_train_downsamples_to_the_smallest_class():
    labels = _labels([500, 120])
    plan = split_indices(
        labels, (1000, 40, 40), seed=0, num_classes=2, mode="balanced", balanced_train=True
    )
    assert _by_class(plan.indices["train"], labels) == {0: 80, 1: 80}


def test_seeded_deterministic_and_seed_dependent():
    labels = _labels([300, 300])
    a = split_indices(labels, (200, 50, 50), seed=13, num_classes=2)
    b = split_indices(labels, (200, 50, 50), seed=13, num_classes=2)
    c = split_indices(labels, (200, 50, 50), seed=14, num_classes=2)
    assert a.indices == b.indices and a.sha256 == b.sha256
    assert a.indices["test"] != c.indices["test"] and a.sha256 != c.sha256


def test_split_follows_keys_not_row_order():
    keys = [f"text number {i}" for i in range(200)]
    labels = [i % 2 for i in range(200)]
    a = split_indices(labels, (100, 20, 20), seed=5, num_classes=2, keys=keys)
    perm = list(reversed(range(200)))
    b = split_indices(
        [labels[i] for i in perm],
        (100, 20, 20),
        seed=5,
        num_classes=2,
        keys=[keys[i] for i in perm],
    )
    for s in SPLITS:
        assert {keys[i] for i in a.indices[s]} == {keys[perm[i]] for i in b.indices[s]}


def test_groups_never_straddle_splits_and_quotas_stay_exact():
    # every third item is a duplicate of the previous one (same group)
    labels, groups = [], []
    for i in range(300):
        labels.append(i % 2)
        groups.append(f"g{i - 1}" if i % 3 == 2 and (i - 1) % 2 == i % 2 else f"g{i}")
    plan = split_indices(labels, (500, 30, 30), seed=2, num_classes=2, groups=groups)
    where = {}
    for s in SPLITS:
        for i in plan.indices[s]:
            where.setdefault(groups[i], set()).add(s)
    assert all(len(v) == 1 for v in where.values())
    assert len(plan.indices["test"]) == 30 and len(plan.indices["dev"]) == 30


def test_mixed_class_group_and_bad_label_raise():
    with pytest.raises(ValueError, match="mixes classes"):
        split_indices([0, 1], (1, 0, 0), seed=0, num_classes=2, groups=["g", "g"])
    with pytest.raises(ValueError, match="out of range"):
        split_indices([0, 2], (1, 0, 0), seed=0, num_classes=2)
    with pytest.raises(ValueError, match="unknown split mode"):
        split_indices([0, 1], (1, 0, 0), seed=0, num_classes=2, mode="random")
