"""Training state saved in every checkpoint, so a resumed run continues exactly where it stopped."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainState:
    """Counters and the data position; registered with accelerate for checkpointing.

    `epoch` and `batch_in_epoch` locate the next micro-batch in the (seeded) data order, so a
    resume mid-epoch skips exactly the micro-batches already consumed.
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    samples_seen: int = 0
    items_seen: int = 0
    best_metric: float | None = None
    best_step: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.state_dict(), indent=2, sort_keys=True) + "\n")
