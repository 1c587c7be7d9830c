"""What a pipeline plugs into the Engine: model, data, loss, evaluation and export.

APET freezes a backbone and injects modules, KI pairs a student with a frozen teacher, prompt
transfer trains only a soft prompt; all do it by overriding these hooks, never by writing a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator

    from thunlp_repro.shared.trainer.state import TrainState


@dataclass
class DataBundle:
    """Training and evaluation datasets (anything a DataLoader accepts) and their collate fns."""

    train: Any
    eval: Any | None = None
    collate_fn: Callable[[list[Any]], Any] | None = None
    eval_collate_fn: Callable[[list[Any]], Any] | None = None


@dataclass
class LossOutput:
    """A micro-batch's loss *summed* over its items, plus metrics to log.

    The Engine divides by the item count of the whole accumulated (and gathered) batch, so
    8x1 and 4x2 give the same update (conventions.md §1.3, the grad-accumulation row).
    """

    loss_sum: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)


class EngineHooks:
    """Base class of a pipeline's hooks; override what the pipeline needs."""

    find_unused_parameters: bool = False
    """DDP: set when some trainable parameters get no gradient in a step (e.g. an unused
    pooler); DDP then searches the graph every step, which costs time."""

    def build_model(self, cfg: Any) -> tuple[torch.nn.Module, list[torch.nn.Parameter] | None]:
        """Return the model and its trainable parameters (None: all with requires_grad)."""
        raise NotImplementedError

    def build_data(self, cfg: Any) -> DataBundle:
        """Return the datasets."""
        raise NotImplementedError

    def compute_loss(self, batch: Any, model: torch.nn.Module, state: TrainState) -> LossOutput:
        """Forward one micro-batch and return its summed loss."""
        raise NotImplementedError

    def count_items(self, batch: Any) -> int:
        """Items the loss is averaged over (default: rows; MLM overrides with masked tokens)."""
        if isinstance(batch, dict):
            if "labels" in batch and batch["labels"].dim() > 1:
                return int((batch["labels"] != -100).sum())
            batch = next(iter(batch.values()))
        if isinstance(batch, list | tuple):
            batch = batch[0]
        return int(batch.shape[0])

    def evaluate(
        self, model: torch.nn.Module, loader: Any, accelerator: Accelerator
    ) -> dict[str, float]:
        """Evaluate on the eval loader; return named metrics (default: none)."""
        return {}

    def on_step_end(self, state: TrainState, metrics: dict[str, float]) -> None:
        """Called after each optimizer step with that step's train metrics."""

    def export(self, model: torch.nn.Module, out_dir: Path) -> None:
        """Write the trainable-only weights (default: every parameter that requires grad)."""
        from thunlp_repro.shared.trainer.export import export_trainable

        export_trainable(model, out_dir)
