"""Metric trackers for `accelerator.log`: our JSONL file always, tensorboard when asked."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from accelerate.tracking import GeneralTracker


class JsonlTracker(GeneralTracker):
    """Appends one JSON object per `accelerator.log` call to `metrics.jsonl`.

    Each record has `step`, `time` and the logged values; keys like `eval/accuracy` keep their
    split prefix so readers can filter by it.
    """

    name = "jsonl"
    requires_logging_directory = False

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.start_time = time.time()

    @property
    def tracker(self) -> Path:
        return self.path

    def store_init_configuration(self, values: dict[str, Any]) -> None:
        """The config is saved as config.yaml by the run folder; nothing to do here."""

    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        record = {"step": step, "time": round(time.time() - self.start_time, 3), **values}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True, default=float) + "\n")
