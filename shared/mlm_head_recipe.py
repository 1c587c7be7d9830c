"""Restored-head recipe in torch: the head, its training on cached states, export, the build.

Reproduces: prompt_transfer.md §2.6, "Restored-head recipe":

- **Head.** z = E · LN(GELU(W h + b)) + β with the decoder tied to the frozen input embeddings E
  (`MLMHead`; the same maths as `BertForMaskedLM.cls.predictions` / `MPNetForMaskedLM.lm_head`).
- **Corpus.** The `head` corpus (`thunlp_repro.shared.corpora`): Shakespeare, the KJV and the 90%
  of dialog lines the tasks do not reserve, task texts excluded; blocks of `[CLS]` + 126 + `[SEP]`,
  an equal share of the token budget from each domain, drawn with `mask_seed`.
- **Masking.** 15% of the non-special tokens of every block, always replaced by the mask token
  (`mask_blocks`); the loss is cross-entropy over the full vocabulary at the masked positions.
- **Cache.** The frozen backbone runs once over the fixed draw; the masked-position states are kept
  in fp16 (`collect_states`; optionally on disk), then the head trains 3 epochs on them.
- **Gate.** Held-out masked top-1 (the corpus's validation units, its own fixed draw) must beat the
  most-frequent-token baseline and the `tied` readout z = E · h (`check_gate`).

[ours] where the spec is silent: AdamW (lr 3e-3, linear decay to 0, weight decay 0.01 on W),
batch 256, BERT's initialisation (W ~ N(0, 0.02²), LN = identity, β = 0).

The masking draw and the state cache live in `mlm_head_data.py`, the probes in
`mlm_head_probes.py`; the recipe constants and the gate in `mlm_head.py`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from thunlp_repro.shared.errors import ReproError, UsageError
from thunlp_repro.shared.mlm_head import (
    HEAD_CARD,
    HEAD_KEYS,
    HEAD_WEIGHTS,
    PROBES,
    HeadRecipe,
    check_gate,
)
from thunlp_repro.shared.mlm_head_data import (
    IGNORE,
    MaskedStates,
    Progress,
    collect_states,
    masked_corpus,
)
from thunlp_repro.shared.mlm_head_probes import run_probes

log = logging.getLogger(__name__)

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
#: Bump when the cached states' content changes for the same key.
STATES_FORMAT = 1
#: Masked-LM attribute names of each family's head, for `export_masked_lm`.
FAMILY_HEAD_KEYS: dict[str, dict[str, str]] = {
    "bert": {
        "dense.weight": "cls.predictions.transform.dense.weight",
        "dense.bias": "cls.predictions.transform.dense.bias",
        "layer_norm.weight": "cls.predictions.transform.LayerNorm.weight",
        "layer_norm.bias": "cls.predictions.transform.LayerNorm.bias",
        "bias": "cls.predictions.bias",
    },
    "mpnet": {
        "dense.weight": "lm_head.dense.weight",
        "dense.bias": "lm_head.dense.bias",
        "layer_norm.weight": "lm_head.layer_norm.weight",
        "layer_norm.bias": "lm_head.layer_norm.bias",
        "bias": "lm_head.bias",
    },
}


def _say(progress: Progress | None, message: str) -> None:
    log.info(message)
    if progress is not None:
        progress(message)


# ------------------------------------------------------------------------------------ the head
class MLMHead(nn.Module):
    """BERT-style MLM prediction head with its decoder tied to the (frozen) word embeddings.

    z = E · LN(GELU(W h + b)) + β (prompt_transfer.md §2.6). `decoder.weight` *is* the backbone's
    embedding Parameter (not a copy), as in `BertForMaskedLM`; only W, b, the LayerNorm and β train.

    Args:
        word_embeddings: The backbone's input embedding module (E: vocab × d).
        layer_norm_eps: LayerNorm epsilon (the backbone config's `layer_norm_eps`).
        init_std: Std of W's normal initialisation (the config's `initializer_range`).
    """

    def __init__(
        self, word_embeddings: nn.Embedding, layer_norm_eps: float = 1e-12, init_std: float = 0.02
    ) -> None:
        super().__init__()
        vocab, dim = word_embeddings.weight.shape
        self.dense = nn.Linear(dim, dim)
        self.layer_norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.decoder = nn.Linear(dim, vocab, bias=False)
        self.decoder.weight = word_embeddings.weight  # tied: the same Parameter
        self.bias = nn.Parameter(torch.zeros(vocab))
        nn.init.normal_(self.dense.weight, std=init_std)
        nn.init.zeros_(self.dense.bias)

    @property
    def vocab_size(self) -> int:
        """Rows of E."""
        return int(self.decoder.weight.shape[0])

    def transform(self, hidden: torch.Tensor) -> torch.Tensor:
        """LN(GELU(W h + b)) (BERT's `cls.predictions.transform`; GELU is the exact erf form)."""
        return self.layer_norm(F.gelu(self.dense(hidden)))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits [..., vocab] of hidden states [..., d]."""
        return self.decoder(self.transform(hidden)) + self.bias

    def trainable_parameters(self) -> list[nn.Parameter]:
        """W, b, the LayerNorm and β (never E)."""
        return [
            self.dense.weight,
            self.dense.bias,
            self.layer_norm.weight,
            self.layer_norm.bias,
            self.bias,
        ]

    def head_state_dict(self) -> dict[str, torch.Tensor]:
        """The head alone, keyed by `HEAD_KEYS` (what `head.safetensors` stores)."""
        sd = self.state_dict()
        return {k: sd[k].detach().float().contiguous().clone() for k in HEAD_KEYS}

    def load_head_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load `head_state_dict` output (exactly `HEAD_KEYS`)."""
        if set(state) != set(HEAD_KEYS):
            raise UsageError(f"head state has keys {sorted(state)}, expected {list(HEAD_KEYS)}")
        with torch.no_grad():
            for key in HEAD_KEYS:
                self.get_parameter(key).copy_(state[key])


def tied_logits(word_embeddings: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """The parameter-free `tied` readout z = E · h (prompt_transfer.md §2.6)."""
    return hidden @ word_embeddings.t()


def init_head(backbone: nn.Module, seed: int = 0) -> MLMHead:
    """A freshly initialised head tied to `backbone`'s input embeddings, seeded by `seed`."""
    from thunlp_repro.shared.seeding import seed_everything

    seed_everything(seed)
    cfg = backbone.config
    return MLMHead(
        backbone.get_input_embeddings(),
        layer_norm_eps=float(getattr(cfg, "layer_norm_eps", 1e-12)),
        init_std=float(getattr(cfg, "initializer_range", 0.02)),
    )


# ------------------------------------------------------------------------------------ training
def train_head(
    head: MLMHead,
    data: MaskedStates,
    *,
    epochs: int = 3,
    batch_size: int = 256,
    lr: float = 3e-3,
    weight_decay: float = 0.01,
    seed: int = 0,
    matmul_dtype: str | None = "bfloat16",
    progress: Progress | None = None,
) -> list[dict[str, float]]:
    """Train the head on cached states: cross-entropy over the full vocabulary, E frozen.

    AdamW with a linear decay to 0 over `epochs` passes; the data order comes from `seed`. With
    `matmul_dtype="bfloat16"` the two vocabulary-sized matmuls (E · t and its gradient) run in
    bf16 while the head's parameters, the softmax and the loss stay in fp32.

    Returns:
        One record per epoch: `epoch`, `loss` (mean), `seconds`.
    """
    from thunlp_repro.shared.seeding import seed_everything

    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    n = len(data)
    steps_per_epoch = math.ceil(n / batch_size) if n else 0
    total = max(1, epochs * steps_per_epoch)
    decay = [head.dense.weight]
    no_decay = [p for p in head.trainable_parameters() if p is not head.dense.weight]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / total))
    emb = head.decoder.weight
    frozen = emb.requires_grad
    emb.requires_grad_(False)  # E is frozen: no gradient, and none computed
    low = None if matmul_dtype in (None, "float32") else emb.detach().to(_DTYPES[matmul_dtype])
    head.train()
    history = []
    started = time.perf_counter()
    try:
        for epoch in range(epochs):
            perm = torch.randperm(n, generator=gen)
            total_loss, seen = 0.0, 0
            for i in range(0, n, batch_size):
                idx = perm[i : i + batch_size]
                x, y = data.states[idx].float(), data.targets[idx]
                if low is None:
                    logits = head(x)
                else:  # the vocabulary matmuls in bf16 (2x faster on the 2-core CPU), loss in fp32
                    logits = (head.transform(x).to(low.dtype) @ low.t()).float() + head.bias
                loss = F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total_loss += float(loss.detach()) * len(idx)
                seen += len(idx)
            rec = {
                "epoch": epoch + 1,
                "loss": total_loss / max(1, seen),
                "seconds": time.perf_counter() - started,
            }
            history.append(rec)
            _say(progress, f"head epoch {epoch + 1}/{epochs}: loss {rec['loss']:.3f}, "
                           f"{rec['seconds']:.0f} s")  # fmt: skip
    finally:
        emb.requires_grad_(frozen)
        head.eval()
    return history


@torch.no_grad()
def evaluate_head(
    head: MLMHead, data: MaskedStates, *, most_frequent: int, batch_size: int = 1024
) -> dict[str, Any]:
    """Held-out masked-token accuracy of the head and of the gate's two baselines.

    Args:
        head: The trained head.
        data: Held-out states.
        most_frequent: The most frequent masked target of the *training* draw.
        batch_size: States per evaluation batch.

    Returns:
        `head_top1`, `head_top5`, `head_loss` (mean cross-entropy), `tied_top1` (E · h),
        `most_frequent_top1`, `most_frequent_token_id`, `n_eval`.
    """
    head.eval()
    emb = head.decoder.weight
    top1 = top5 = tied = 0
    loss = 0.0
    n = len(data)
    for i in range(0, n, batch_size):
        x, y = data.states[i : i + batch_size].float(), data.targets[i : i + batch_size]
        z = head(x)
        loss += float(F.cross_entropy(z, y, reduction="sum"))
        top1 += int((z.argmax(-1) == y).sum())
        top5 += int((z.topk(5, dim=-1).indices == y[:, None]).any(-1).sum())
        tied += int((tied_logits(emb, x).argmax(-1) == y).sum())
    denom = max(1, n)
    return {
        "head_top1": top1 / denom,
        "head_top5": top5 / denom,
        "head_loss": loss / denom,
        "tied_top1": tied / denom,
        "most_frequent_top1": int((data.targets == most_frequent).sum()) / denom,
        "most_frequent_token_id": int(most_frequent),
        "n_eval": n,
    }


def most_frequent_token(data: MaskedStates, vocab_size: int) -> int:
    """The most frequent target id of a draw (lowest id on ties)."""
    return int(torch.bincount(data.targets, minlength=vocab_size).argmax())


def fit_head(
    backbone: nn.Module,
    train: MaskedStates,
    held_out: MaskedStates,
    recipe: HeadRecipe,
    *,
    progress: Progress | None = None,
    gate: bool = True,
    backbone_name: str = "the backbone",
) -> tuple[MLMHead, dict[str, Any], list[dict[str, float]]]:
    """Initialise, train and evaluate a head on cached states; apply the gate.

    Returns:
        (head, metrics of `evaluate_head`, training history).

    Raises:
        HeadGateError: `gate` is on and the head does not beat both baselines.
    """
    head = init_head(backbone, recipe.seed)
    history = train_head(
        head,
        train,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        seed=recipe.seed,
        matmul_dtype=recipe.matmul_dtype,
        progress=progress,
    )
    metrics = evaluate_head(
        head, held_out, most_frequent=most_frequent_token(train, head.vocab_size)
    )
    if gate:
        check_gate(metrics, backbone=backbone_name)
    return head, metrics, history


# ------------------------------------------------------------------------------------ export
def export_masked_lm(backbone: nn.Module, head: MLMHead, tokenizer: Any, out_dir: Path) -> Any:
    """Write a `save_pretrained` folder of the family's masked-LM class with the head in place.

    The backbone weights are copied unchanged (a BERT pooler, which the masked-LM class lacks, is
    dropped); the head goes to `cls.predictions` (BERT) or `lm_head` (MPNet), whose decoder stays
    tied to the word embeddings.

    Returns:
        The masked-LM model that was saved.

    Raises:
        UsageError: a family without a mapping, or weights that do not fit.
    """
    import copy

    from transformers import AutoModelForMaskedLM

    config = copy.deepcopy(backbone.config)
    family = config.model_type
    if family not in FAMILY_HEAD_KEYS:
        raise UsageError(f"no masked-LM head mapping for model type '{family}'")
    if family == "bert" and config.hidden_act != "gelu":
        raise UsageError(f"BERT transform activation is {config.hidden_act!r}; the head uses gelu")
    config.architectures = None
    config.tie_word_embeddings = True
    model = AutoModelForMaskedLM.from_config(config)
    state = {k: v for k, v in backbone.state_dict().items() if not k.startswith("pooler.")}
    missing, unexpected = model.base_model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UsageError(f"backbone weights do not fit {type(model).__name__}: "
                         f"missing {missing}, unexpected {unexpected}")  # fmt: skip
    head_state = head.head_state_dict()
    with torch.no_grad():
        for ours, theirs in FAMILY_HEAD_KEYS[family].items():
            model.get_parameter(theirs).copy_(head_state[ours])
    out_emb, in_emb = model.get_output_embeddings(), model.get_input_embeddings()
    if out_emb.weight is not in_emb.weight:
        raise UsageError(f"{type(model).__name__}: decoder is not tied to the word embeddings")
    decoder_bias = getattr(out_emb, "bias", None)
    head_bias = model.get_parameter(FAMILY_HEAD_KEYS[family]["bias"])
    if decoder_bias is not None and decoder_bias is not head_bias:
        with torch.no_grad():
            decoder_bias.copy_(head_bias)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return model


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _weights_sha256(folder: Path) -> str:
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(_sha256(f).encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------------ the build
def _states_key(backbone_dir: Path, tokenizer: Any, recipe: HeadRecipe) -> str:
    from thunlp_repro.shared.corpora import domains, pack_stats, tokenizer_fingerprint

    sigs = {}
    for split in ("train", "validation"):
        for dom in domains(recipe.corpus):
            meta = pack_stats(dom, tokenizer, recipe.block_size, split, 0, packing="complete")
            sigs[f"{split}/{dom}"] = meta[dom]["source_signature"]
    key = {
        "format": STATES_FORMAT,
        "weights": _weights_sha256(backbone_dir),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "corpus": sigs,
        **{
            k: getattr(recipe, k)
            for k in ("corpus", "tokens", "eval_tokens", "block_size", "mask_rate", "mask_seed")
        },
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def cached_states(
    backbone: nn.Module,
    backbone_dir: Path,
    tokenizer: Any,
    recipe: HeadRecipe,
    *,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> tuple[MaskedStates, MaskedStates, dict[str, Any], bool]:
    """The masked-position states of the fixed draw, from `cache_dir` when present.

    Returns:
        (train states, held-out states, draw stats, whether the disk cache was hit).
    """
    from thunlp_repro.shared.io import atomic_write_bytes

    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{_states_key(backbone_dir, tokenizer, recipe)[:32]}.pt"
        if path.is_file():
            try:
                obj = torch.load(path, map_location="cpu", weights_only=True)
                _say(progress, f"states: loaded from {path}")
                return (
                    MaskedStates(obj["train_states"], obj["train_targets"].long()),
                    MaskedStates(obj["eval_states"], obj["eval_targets"].long()),
                    json.loads(obj["stats"]),
                    True,
                )
            except Exception as exc:  # a truncated or foreign file: recompute
                log.warning("states cache %s unreadable (%s); recomputing", path, exc)
    draw = masked_corpus(tokenizer, recipe)
    blocks = f"{draw.stats['train']['blocks']} train + {draw.stats['eval']['blocks']} held-out"
    _say(progress, f"states: {blocks} blocks through the frozen backbone")
    kw = {"batch_size": recipe.forward_batch_size, "progress": progress}
    train = collect_states(backbone, draw.train_ids, draw.train_labels, **kw)
    held = collect_states(backbone, draw.eval_ids, draw.eval_labels, **kw)
    if path is not None:
        buf = io.BytesIO()
        torch.save(
            {
                "train_states": train.states,
                "train_targets": train.targets.int(),
                "eval_states": held.states,
                "eval_targets": held.targets.int(),
                "stats": json.dumps(draw.stats),
            },
            buf,
        )
        atomic_write_bytes(path, buf.getvalue())
    return train, held, draw.stats, False


def _load_backbone(folder: Path) -> tuple[nn.Module, Any]:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(folder)
    kwargs = {"add_pooling_layer": False} if config.model_type in FAMILY_HEAD_KEYS else {}
    backbone = AutoModel.from_pretrained(folder, dtype=torch.float32, **kwargs)
    backbone.requires_grad_(False)
    backbone.eval()
    return backbone, AutoTokenizer.from_pretrained(folder)


def _parity(
    backbone: nn.Module, head: MLMHead, saved: Path, ids: torch.Tensor, labels: torch.Tensor
) -> tuple[float, nn.Module]:
    """Max |logit difference| between the reloaded masked-LM folder and backbone + head."""
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(saved, dtype=torch.float32).eval()
    with torch.no_grad():
        sel = labels != IGNORE
        ref = head(backbone(input_ids=ids).last_hidden_state[sel])
        got = model(input_ids=ids).logits[sel]
    return float((ref - got).abs().max()) if ref.numel() else 0.0, model


def build_restored_head(
    backbone_dir: str | Path,
    out_dir: str | Path,
    *,
    recipe: HeadRecipe | None = None,
    backbone_name: str | None = None,
    progress: Progress | None = None,
    states_cache_dir: str | Path | None = None,
    gate: bool = True,
    probes: Sequence[tuple[str, Sequence[str]]] = PROBES,
) -> dict[str, Any]:
    """Build the restored head of one backbone folder into `out_dir` (the whole §2.6 recipe).

    Writes the masked-LM `save_pretrained` folder with the tokenizer, `head.safetensors` and
    `head_card.json`. Nothing is written when the gate fails.

    Args:
        backbone_dir: A transformers folder of the frozen encoder (BERT or MPNet family).
        out_dir: Output folder (created).
        recipe: Settings (default `HeadRecipe()`).
        backbone_name: Name recorded in the card (default: the folder name).
        progress: Called with one-line status messages.
        states_cache_dir: Folder of the on-disk states cache (None: in memory only).
        gate: Apply the gate (tests switch it off to inspect a losing head).
        probes: Label-word probes recorded in the card.

    Returns:
        The head card (also written to `out_dir/head_card.json`).

    Raises:
        HeadGateError: the head does not beat both baselines.
    """
    import platform

    import safetensors.torch
    import transformers

    from thunlp_repro.shared.corpora import tokenizer_fingerprint

    recipe = recipe or HeadRecipe()
    backbone_dir, out_dir = Path(backbone_dir), Path(out_dir)
    name = backbone_name or backbone_dir.name
    t0, cpu0 = time.perf_counter(), time.process_time()
    backbone, tokenizer = _load_backbone(backbone_dir)
    train, held, draw, hit = cached_states(
        backbone, backbone_dir, tokenizer, recipe, cache_dir=states_cache_dir, progress=progress
    )
    t_states = time.perf_counter() - t0
    _say(progress, f"head: training on {len(train)} cached states ({recipe.epochs} epochs)")
    head, metrics, history = fit_head(
        backbone, train, held, recipe, progress=progress, gate=gate, backbone_name=name
    )
    t_train = time.perf_counter() - t0 - t_states
    mf = metrics["most_frequent_token_id"]
    metrics["most_frequent_token"] = tokenizer.convert_ids_to_tokens(mf)
    _say(progress, f"gate: head top-1 {metrics['head_top1']:.2%} vs most-frequent "
                   f"{metrics['most_frequent_top1']:.2%} ({metrics['most_frequent_token']!r}) "
                   f"and tied {metrics['tied_top1']:.2%}")  # fmt: skip

    export_masked_lm(backbone, head, tokenizer, out_dir)
    head_path = out_dir / HEAD_WEIGHTS
    # No metadata: safetensors writes a metadata map in hash order, which would make the file (and
    # head_sha256) differ between identical heads; the card carries the provenance instead.
    safetensors.torch.save_file(head.head_state_dict(), str(head_path))
    fixed = masked_corpus(tokenizer, recipe)  # cheap: the packed corpus is cached on disk
    diff, model = _parity(backbone, head, out_dir, fixed.eval_ids[:4], fixed.eval_labels[:4])
    if diff > 1e-3:
        raise ReproError(f"exported masked-LM differs from backbone + head by {diff:.2e}")
    probe_rows = run_probes(model, tokenizer, probes) if probes else []
    t_total = time.perf_counter() - t0
    card = {
        "format": 1,
        "backbone": name,
        "backbone_sha256": _weights_sha256(backbone_dir),
        "masked_lm_class": type(model).__name__,
        "head_sha256": _sha256(head_path),
        "head": "restored: z = E · LN(GELU(W h + b)) + β, decoder tied to frozen E",
        "recipe": recipe.to_dict(),
        "seeds": {"mask_seed": recipe.mask_seed, "seed": recipe.seed, "corpus_split_seed": 0},
        "data": {
            "corpus": recipe.corpus,
            "train_tokens": draw["train"]["tokens"],
            "train_masked": len(train),
            "eval_tokens": draw["eval"]["tokens"],
            "eval_masked": len(held),
            "draw": draw,
            "states_cache_hit": hit,
        },
        "metrics": metrics,
        "gate": {
            "passed": metrics["head_top1"]
            > max(metrics["most_frequent_top1"], metrics["tied_top1"]),
            "rule": "head_top1 > most_frequent_top1 and head_top1 > tied_top1 (held-out)",
        },
        "history": history,
        "parity_max_abs_diff": diff,
        "probes": probe_rows,
        "timing": {
            "states_s": round(t_states, 1),
            "train_s": round(t_train, 1),
            "total_s": round(t_total, 1),
            "cpu_s": round(time.process_time() - cpu0, 1),  # all threads; wall time hides load
            "threads": torch.get_num_threads(),
        },
        "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
    }
    (out_dir / HEAD_CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    _say(progress, f"head: done in {t_total:.0f} s -> {out_dir}")
    return card
