"""One seeding entry point for every pipeline (python, numpy, torch; seed + rank per process)."""

from __future__ import annotations

import os
import random


def seed_everything(seed: int, rank: int = 0, deterministic: bool = False) -> int:
    """Seed python, numpy and torch with `seed + rank`; optionally force deterministic kernels.

    Args:
        seed: The run's base seed (recorded in config and results).
        rank: Process index, so data-parallel workers draw different dropout masks.
        deterministic: Use torch's deterministic algorithms (slower; needed for bit-exact GPU runs).

    Returns:
        The seed actually used by this process.
    """
    import numpy as np
    import torch

    effective = seed + rank
    random.seed(effective)
    np.random.seed(effective % 2**32)
    torch.manual_seed(effective)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(effective)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    return effective
