"""Text embedders for the consistency metric: offline MiniLM (default), any OpenAI-compatible
embeddings endpoint (the paper's `text-embedding-ada-002`), and a hashed bag of words for tests.

- ``minilm-l6`` (default) / ``mpnet-base``: the offline assets (`shared.assets.model_dir`), run
  with transformers `AutoModel`: mean pooling over the attention mask, then L2 normalisation
  (the sentence-transformers recipe). Texts longer than a window are split into 256-token windows
  by `windows`; `embed` truncates at the window length.
- ``openai:<model>`` (e.g. ``openai:text-embedding-ada-002``): the `openai` client, base URL and
  key variable from the arguments or ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``; windows are
  8,000 characters (the repo's ECL helper truncates at 8,190 characters [repo]).
- ``hash``: deterministic hashed bag of words (the fake server's vectors), for offline tests.

Cosines from different embedders are on different scales: compare consistency with the paper
only when ada-002 is used (chatdev.md §2.16).

Reproduces: ChatDev §4 (Consistency), chatdev.md §2.16 ("Embedder").
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from thunlp_repro.shared.errors import UsageError

logger = logging.getLogger(__name__)

ASSET_EMBEDDERS = {"minilm-l6", "mpnet-base"}
WINDOW_TOKENS = 256
API_WINDOW_CHARS = 8000


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


class HashEmbedder:
    """Hashed bag-of-words vectors (deterministic, no model); windows of 200 words."""

    name = "hash"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def embed(self, texts: list[str]) -> np.ndarray:
        from thunlp_repro.chatdev.fake_server import embed

        return np.array([embed(t, self.dim) for t in texts], dtype=np.float64)

    def windows(self, text: str) -> list[str]:
        words = text.split()
        return [" ".join(words[i : i + 200]) for i in range(0, len(words), 200)] or [text]


class TransformersEmbedder:
    """A sentence-embedding model from the offline assets (mean pooling + L2 norm).

    Args:
        asset: Asset id (`minilm-l6`, `mpnet-base`) or a local model folder.
        window: Tokens per window (special tokens included).
        batch_size: Texts per forward pass.
    """

    def __init__(self, asset: str = "minilm-l6", window: int = WINDOW_TOKENS, batch_size: int = 16):
        import torch
        from transformers import AutoModel, AutoTokenizer

        if os.path.isdir(asset):
            path = asset
        else:
            from thunlp_repro.shared.assets import model_dir

            path = str(model_dir(asset))
        self.name = asset
        self.window = window
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self._torch = torch

    def embed(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else "None" for t in texts[i : i + self.batch_size]]
            enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.window,
                                 return_tensors="pt")  # fmt: skip
            with torch.no_grad():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(pooled.float().numpy())
        return _normalise(np.concatenate(out).astype(np.float64))

    def windows(self, text: str) -> list[str]:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        size = self.window - 2
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
        return [self.tokenizer.decode(c) for c in chunks] or [text]


class OpenAIEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` endpoint.

    Args:
        model: Model name (e.g. `text-embedding-ada-002`).
        base_url: Server URL; None = `OPENAI_BASE_URL` or the official API.
        api_key_env: Name of the key variable (a local server accepts any value).
    """

    def __init__(self, model: str, base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY") -> None:  # fmt: skip
        from openai import OpenAI

        key = os.environ.get(api_key_env) or ("local" if base_url else None)
        if key is None:
            raise UsageError(f"embedder openai:{model} needs an API key in ${api_key_env}")
        self.name = f"openai:{model}"
        self.model = model
        self.client = OpenAI(base_url=base_url or os.environ.get("OPENAI_BASE_URL"), api_key=key,
                             max_retries=3)  # fmt: skip

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = [t if t.strip() else "None" for t in texts]
        done = self.client.embeddings.create(input=texts, model=self.model)
        data = sorted(done.data, key=lambda d: d.index)
        return _normalise(np.array([d.embedding for d in data], dtype=np.float64))

    def windows(self, text: str) -> list[str]:
        step = API_WINDOW_CHARS
        return [text[i : i + step] for i in range(0, len(text), step)] or [text]


def build_embedder(name: str = "minilm-l6", base_url: str | None = None,
                   api_key_env: str = "OPENAI_API_KEY") -> Any:  # fmt: skip
    """An embedder by name: `minilm-l6`, `mpnet-base`, a model folder, `openai:<model>`, `hash`.

    Raises:
        UsageError: an unknown name, or a missing asset (with the install command).
    """
    if name == "hash":
        return HashEmbedder()
    if name.startswith("openai:"):
        return OpenAIEmbedder(name.split(":", 1)[1], base_url, api_key_env)
    if base_url:
        return OpenAIEmbedder(name, base_url, api_key_env)
    if name in ASSET_EMBEDDERS or os.path.isdir(name):
        try:
            return TransformersEmbedder(name)
        except (OSError, ImportError) as exc:
            raise UsageError(f"embedder {name}: {exc}; install it with "
                             f"`thunlp-repro assets install {name}`") from exc  # fmt: skip
    raise UsageError(
        f"unknown embedder '{name}' (minilm-l6 | mpnet-base | openai:MODEL | hash | "
        "a model folder; or --embed-base-url for an OpenAI-compatible endpoint)"
    )
