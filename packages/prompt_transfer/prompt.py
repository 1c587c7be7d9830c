"""Soft-prompt tuning on a frozen MLM backbone, read out through label words.

Reproduces: prompt_transfer.md §2.2 (the official RoBERTa path: a frozen `<mask>` embedding in the
first prompt slot, read out at position 0; prompt slots carry no position vector; the loss is a
softmax restricted to the task's label words) and §2.5 (our module: `mask_slot`,
`prompt_positions`, `init`), §2.6 (one frozen verbalizer head per backbone: `restored`/`native`
heads are the MLM model's own head, `tied` is z = E · h).

Why not PEFT's `PromptTuningConfig` (peft `tuners/prompt_tuning`): PEFT prepends
`PromptEmbedding` rows to `inputs_embeds` and positions them like ordinary tokens. The paper needs
(a) a separate frozen mask slot in front of the trainable rows that is the readout position,
(b) *no* position vector on the prompt region while text positions continue after it, and (c) a
readout restricted to label words through one shared frozen head (PEFT's `SEQ_CLS` mode trains a
classifier head instead, which breaks zero-shot cross-task transfer). (b) needs explicit
`position_ids` plus the −E_pos trick of §2.5 on the prompt slots, which PEFT's forward does not
expose, so we build `inputs_embeds` ourselves. PEFT's prompt tuning is the comparison point of the
benchmark (`benchmarks/bench_prompt_transfer.py`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from thunlp_repro.shared.errors import UsageError


def position_offset(config: Any) -> int:
    """First position index of a backbone family: RoBERTa/MPNet count from padding_idx + 1."""
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "mpnet", "camembert"):
        return int(config.pad_token_id) + 1
    return 0


def mlm_readout(mlm: nn.Module, head: str) -> Any:
    """The frozen verbalizer function h -> vocabulary logits of a masked-LM model (§2.6).

    Args:
        mlm: A transformers `*ForMaskedLM` (its `cls` or `lm_head` is the restored/native head).
        head: `restored`, `native` or `mlm-adapt` (the model's own head) or `tied` (z = E · h).

    Raises:
        UsageError: the model has no MLM head to read out through.
    """
    if head == "tied":
        emb = mlm.get_input_embeddings().weight
        return lambda hidden: hidden @ emb.t()
    for name in ("cls", "lm_head"):
        if hasattr(mlm, name):
            return getattr(mlm, name)
    raise UsageError(f"{type(mlm).__name__} has no MLM head (cls / lm_head); use head=tied")


class SoftPromptMLM(nn.Module):
    """A frozen masked-LM backbone with a trainable soft prompt in front of the text.

    Sequence (`mask_slot=prompt0`): ``[MASK] p_1 … p_n [CLS] x [SEP]``; the class scores are the
    head's logits of the label words at the mask slot. With `after_prompt` the mask slot follows
    the prompt: ``p_1 … p_n [MASK] [CLS] x [SEP]``. With `positions=zero` the n + 1 slots of the
    prompt region get no absolute position vector (−E_pos[j] is added, and the embedding layer adds
    E_pos[j] back); text positions start after the region in both modes.

    Args:
        mlm: The masked-LM model; every parameter is frozen here.
        prompt: Initial prompt, shape (n, d); becomes the only trainable parameter.
        mask_token_id: Id of the mask token (its embedding fills the mask slot, frozen).
        head: Readout (`mlm_readout`).
        mask_slot: `prompt0` or `after_prompt`.
        positions: `zero` or `sequential`.
    """

    def __init__(
        self,
        mlm: nn.Module,
        prompt: torch.Tensor,
        mask_token_id: int,
        *,
        head: str = "restored",
        mask_slot: str = "prompt0",
        positions: str = "zero",
    ) -> None:
        super().__init__()
        if mask_slot not in ("prompt0", "after_prompt"):
            raise UsageError(f"mask_slot must be prompt0 or after_prompt, got {mask_slot!r}")
        if positions not in ("zero", "sequential"):
            raise UsageError(f"prompt positions must be zero or sequential, got {positions!r}")
        self.mlm = mlm
        for p in self.mlm.parameters():
            p.requires_grad_(False)
        width = mlm.get_input_embeddings().weight.shape[1]
        if prompt.ndim != 2 or prompt.shape[1] != width:
            raise UsageError(
                f"prompt has shape {tuple(prompt.shape)} but the backbone width is {width}; "
                "a prompt from another width needs a projector"
            )
        self.prompt = nn.Parameter(prompt.detach().clone().float())
        self.mask_token_id = int(mask_token_id)
        self.head_kind, self.mask_slot, self.positions = head, mask_slot, positions
        self.readout = mlm_readout(mlm, head)
        self.offset = position_offset(mlm.config)

    @property
    def region(self) -> int:
        """Slots before the text: n prompt rows + the mask slot."""
        return self.prompt.shape[0] + 1

    @property
    def mask_index(self) -> int:
        """Position of the mask slot (the readout position)."""
        return 0 if self.mask_slot == "prompt0" else self.prompt.shape[0]

    def set_prompt(self, prompt: torch.Tensor) -> None:
        """Copy `prompt` (n, d) into the trainable parameter (evaluation of other prompts)."""
        if prompt.shape != self.prompt.shape:
            raise UsageError(f"prompt shape {tuple(prompt.shape)} != {tuple(self.prompt.shape)}")
        with torch.no_grad():
            self.prompt.copy_(prompt)

    def embed(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        prompt: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """The backbone inputs: `inputs_embeds`, `attention_mask`, `position_ids`, token types."""
        prompt = self.prompt if prompt is None else prompt
        emb = self.mlm.get_input_embeddings()
        batch, length = input_ids.shape
        text = emb(input_ids)
        mask_vec = emb.weight[self.mask_token_id].detach().unsqueeze(0)
        rows = [mask_vec, prompt] if self.mask_slot == "prompt0" else [prompt, mask_vec]
        region = torch.cat(rows, 0).to(text.dtype).unsqueeze(0).expand(batch, -1, -1)
        total = self.region + length
        position_ids = (
            (torch.arange(total, device=input_ids.device) + self.offset)
            .unsqueeze(0)
            .expand(batch, -1)
        )
        if self.positions == "zero":
            pos_table = self.mlm.base_model.embeddings.position_embeddings.weight
            region = region - pos_table[self.offset : self.offset + self.region].detach()
        inputs = torch.cat([region, text], 1)
        ones = attention_mask.new_ones(batch, self.region)
        out = {
            "inputs_embeds": inputs,
            "attention_mask": torch.cat([ones, attention_mask], 1),
            "position_ids": position_ids,
        }
        if token_type_ids is not None:
            zeros = token_type_ids.new_zeros(batch, self.region)
            out["token_type_ids"] = torch.cat([zeros, token_type_ids], 1)
        return out

    def mask_hidden(self, batch: dict[str, torch.Tensor], prompt: torch.Tensor | None = None):
        """Last-layer hidden state at the mask slot, shape (B, d)."""
        inputs = self.embed(
            batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"), prompt
        )
        hidden = self.mlm.base_model(**inputs).last_hidden_state
        return hidden[:, self.mask_index]

    def vocab_logits(self, batch: dict[str, torch.Tensor], prompt: torch.Tensor | None = None):
        """Full-vocabulary logits z at the mask slot, shape (B, |V|)."""
        return self.readout(self.mask_hidden(batch, prompt))

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        label_ids: torch.Tensor,
        prompt: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Class scores s_c = z[v(c)], shape (B, C) (§2.2)."""
        return self.vocab_logits(batch, prompt)[:, label_ids]

    def train(self, mode: bool = True) -> SoftPromptMLM:
        """Only the flag: the backbone's mode is set by `backbone_dropout` (`set_backbone_mode`)."""
        self.training = mode
        return self

    def set_backbone_mode(self, dropout: str) -> None:
        """`off`: the backbone in eval mode throughout (mini); `on`: train mode (paper)."""
        self.mlm.train(dropout == "on")


def verbalized_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Summed −log softmax over the task's label words (§2.2), for the Engine's item averaging."""
    return nn.functional.cross_entropy(scores.float(), labels, reduction="sum")


# ----------------------------------------------------------------------------- initialisation


def random_prompt(n: int, d: int, std: float, seed: int) -> torch.Tensor:
    """N(0, std²) of shape (n, d), from its own generator (`init=random`, `rand-init`)."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, d, generator=gen) * std


def uniform_prompt(n: int, d: int, seed: int) -> torch.Tensor:
    """U[0, 1)^{n×d}: the official code's random baseline (`rand-uniform`, §7 pitfall 4)."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.rand(n, d, generator=gen)


def vocab_prompt(
    embeddings: torch.Tensor,
    train_token_ids: list[list[int]],
    n: int,
    seed: int,
    top: int = 5000,
    exclude: set[int] | None = None,
) -> tuple[torch.Tensor, list[int]]:
    """Rows of E for n ids drawn (seeded) from the `top` most frequent training tokens.

    Returns:
        The (n, d) copy and the ids used (special tokens in `exclude` are skipped).
    """
    counts: dict[int, int] = {}
    for ids in train_token_ids:
        for i in ids:
            if exclude is None or i not in exclude:
                counts[i] = counts.get(i, 0) + 1
    ranked = sorted(counts, key=lambda i: (-counts[i], i))[:top]
    if len(ranked) < n:
        raise UsageError(f"init=vocab needs {n} distinct training tokens, found {len(ranked)}")
    gen = torch.Generator().manual_seed(int(seed))
    pick = torch.randperm(len(ranked), generator=gen)[:n].tolist()
    ids = [ranked[i] for i in pick]
    return embeddings[ids].detach().clone().float(), ids


def labels_prompt(embeddings: torch.Tensor, label_ids: list[int], n: int) -> torch.Tensor:
    """The label-word embeddings cycled to length n (`init=labels`)."""
    ids = [label_ids[i % len(label_ids)] for i in range(n)]
    return embeddings[ids].detach().clone().float()
