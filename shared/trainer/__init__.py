"""The one training engine every pipeline uses (conventions.md §2.5)."""

from thunlp_repro.shared.trainer.engine import Engine, FitResult
from thunlp_repro.shared.trainer.hooks import DataBundle, EngineHooks, LossOutput
from thunlp_repro.shared.trainer.state import TrainState

__all__ = ["DataBundle", "Engine", "EngineHooks", "FitResult", "LossOutput", "TrainState"]
