"""Seeded, deterministic, group-aware train/dev/test splitting.

Reproduces: prompt_transfer.md §4.2 ("Dev and test sets are class-balanced where the source allows;
otherwise they are stratified. Train is capped at 2,000. Splits are seeded and deterministic") and
offline-assets.md §4 ("Deduplicating TREC", "Splits": record the sha256 of the split indices).

Randomness never comes from `random` or numpy streams: every item is ordered by
``sha256(f"{salt}|{seed}|{key}")`` of a stable key, so a split depends only on the data, the seed
and the salt, never on the Python or numpy version, or on the order of the source's rows.

Groups (e.g. identical texts, or all sentences of one article) always go to one split, so copies of
an item cannot leak from train into dev or test.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

SPLITS: tuple[str, str, str] = ("train", "dev", "test")


def stable_hash(*parts: object) -> int:
    """A 64-bit integer from the sha256 of the parts joined by '|' (stable everywhere)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def stable_order(keys: Sequence[Hashable], *salt: object) -> list[int]:
    """Indices of `keys` sorted by their salted hash (ties broken by index): a seeded shuffle."""
    return sorted(range(len(keys)), key=lambda i: (stable_hash(*salt, keys[i]), i))


def sha256_json(obj: object) -> str:
    """sha256 hex digest of the canonical JSON of `obj` (sorted keys, no spaces)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split the integer `total` in proportion to `weights` (Hamilton's method, ties by index).

    Args:
        total: The integer to distribute.
        weights: Non-negative weights, one per bin.

    Returns:
        Non-negative integers, one per bin, that sum to `total` (all zero if the weights are).
    """
    wsum = float(sum(weights))
    if total <= 0 or wsum <= 0:
        return [0] * len(weights)
    exact = [total * w / wsum for w in weights]
    out = [int(x) for x in exact]
    rest = total - sum(out)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[:rest]:
        out[i] += 1
    return out


def balanced_quota(total: int, num_classes: int) -> list[int]:
    """`total` spread evenly over the classes (the first classes get the remainder)."""
    base, rest = divmod(total, num_classes)
    return [base + (1 if c < rest else 0) for c in range(num_classes)]


@dataclass(frozen=True)
class SplitPlan:
    """The result of `split_indices`: item indices per split and how dev/test were drawn.

    Attributes:
        indices: ``{"train": [...], "dev": [...], "test": [...]}``, each sorted ascending.
        mode: ``"balanced"`` or ``"stratified"``, the mode dev and test were drawn with.
    """

    indices: dict[str, list[int]]
    mode: str

    @property
    def sha256(self) -> str:
        """sha256 of the canonical JSON of the index lists: the split's citable fingerprint."""
        return sha256_json(self.indices)


def _fill(
    order: list[list[int]], taken: set[int], group_of: list[int], quota: int, members
) -> list[int]:
    """Take whole groups from one class, in hashed order, until `quota` items are taken.

    A group that would overshoot the quota is skipped (it stays available for later splits), so
    the quota is met exactly whenever enough small groups remain.
    """
    out: list[int] = []
    for grp in order:
        if len(out) >= quota:
            break
        g = group_of[grp[0]]
        if g in taken:
            continue
        if len(out) + len(grp) > quota:
            continue
        taken.add(g)
        out.extend(members[g])
    return out


def split_indices(
    labels: Sequence[int],
    sizes: tuple[int, int, int],
    seed: int,
    *,
    num_classes: int,
    keys: Sequence[str] | None = None,
    groups: Sequence[Hashable] | None = None,
    mode: str = "auto",
    balanced_train: bool = False,
    salt: str = "",
) -> SplitPlan:
    """Seeded, group-aware, class-aware split into train / dev / test.

    Test is drawn first, then dev, then train from what is left. Dev and test are drawn with
    per-class quotas:

    - ``balanced``: ``size / C`` per class (remainder to the first classes);
    - ``stratified``: proportional to the class counts of the whole source (largest remainder);
    - ``auto``: balanced if every class can give its dev + test quota and still keep at least as
      many items again for train ("where the source allows"), else stratified.

    Train is the rest, optionally downsampled to equal class counts (`balanced_train`), then capped
    at ``sizes[0]`` by a stratified draw.

    Args:
        labels: Class index of each item.
        sizes: ``(train_cap, dev, test)``.
        seed: The split seed.
        num_classes: Number of classes C.
        keys: Stable per-item keys that the hashed order uses (default: the item index). Use the
            text so that the split does not depend on the source's row order.
        groups: Group id per item; a group never straddles two splits (default: the key).
        mode: ``"auto"``, ``"balanced"`` or ``"stratified"``.
        balanced_train: Downsample train to the smallest class's count before capping.
        salt: Extra hash salt (usually the task name) so tasks with equal keys differ.

    Returns:
        A `SplitPlan`.

    Raises:
        ValueError: a group holds items of different classes, a label is out of range, or `mode`
            is unknown.
    """
    n = len(labels)
    keys = [str(i) for i in range(n)] if keys is None else [str(k) for k in keys]
    groups = list(keys) if groups is None else list(groups)
    if mode not in ("auto", "balanced", "stratified"):
        raise ValueError(f"unknown split mode {mode!r}")
    for y in labels:
        if not 0 <= y < num_classes:
            raise ValueError(f"label {y} out of range for {num_classes} classes")

    # Groups: id -> member indices; every group must be single-class.
    gid: dict[Hashable, int] = {}
    group_of: list[int] = []
    members: list[list[int]] = []
    for i, g in enumerate(groups):
        if g not in gid:
            gid[g] = len(members)
            members.append([])
        group_of.append(gid[g])
        members[gid[g]].append(i)
    for mem in members:
        if len({labels[i] for i in mem}) > 1:
            raise ValueError(f"group of item {mem[0]} mixes classes; cannot split it")

    # Per class: its groups in hashed order (a group is keyed by its first member's key).
    by_class: list[list[list[int]]] = [[] for _ in range(num_classes)]
    for mem in members:
        by_class[labels[mem[0]]].append(mem)
    for c in range(num_classes):
        lst = by_class[c]
        order = stable_order([keys[m[0]] for m in lst], salt, seed)
        by_class[c] = [lst[i] for i in order]
    counts = [sum(len(m) for m in by_class[c]) for c in range(num_classes)]

    train_cap, dev_size, test_size = sizes
    bal_test = balanced_quota(test_size, num_classes)
    bal_dev = balanced_quota(dev_size, num_classes)
    can_balance = all(counts[c] >= 2 * (bal_test[c] + bal_dev[c]) for c in range(num_classes))
    used_mode = (
        "balanced" if mode == "balanced" or (mode == "auto" and can_balance) else "stratified"
    )
    if used_mode == "balanced":
        q_test, q_dev = bal_test, bal_dev
    else:
        q_test = largest_remainder(test_size, counts)
        q_dev = largest_remainder(dev_size, counts)

    taken: set[int] = set()
    out: dict[str, list[int]] = {}
    for split, quota in (("test", q_test), ("dev", q_dev)):
        items: list[int] = []
        for c in range(num_classes):
            items.extend(_fill(by_class[c], taken, group_of, quota[c], members))
        out[split] = items

    rest = [[m for m in by_class[c] if group_of[m[0]] not in taken] for c in range(num_classes)]
    rest_counts = [sum(len(m) for m in rest[c]) for c in range(num_classes)]
    if balanced_train:
        floor = min(rest_counts)
        rest_counts = [floor] * num_classes
    total = sum(rest_counts)
    q_train = rest_counts if total <= train_cap else largest_remainder(train_cap, rest_counts)
    train: list[int] = []
    for c in range(num_classes):
        train.extend(_fill(rest[c], taken, group_of, q_train[c], members))
    out["train"] = train
    return SplitPlan(indices={s: sorted(out[s]) for s in SPLITS}, mode=used_mode)
