"""LLM clients behind one protocol: `openai` (any OpenAI-compatible server), `scripted`, `replay`.

`LLM_CLIENTS` maps a backend key to its class (lazy entries, so importing this package does not
import `openai`). Reproduces: chatdev.md §2.13-§2.14; conventions.md §2.3.
"""

from __future__ import annotations

from thunlp_repro.shared.llm.base import (
    ChatRequest,
    ChatResult,
    ContextOverflow,
    LLMClient,
    LLMError,
    Usage,
    request_hash,
)
from thunlp_repro.shared.registry import Registry

LLM_CLIENTS: Registry[type] = Registry("LLM client")
LLM_CLIENTS.add("openai", "thunlp_repro.shared.llm.openai_client:OpenAIClient")
LLM_CLIENTS.add("scripted", "thunlp_repro.shared.llm.scripted:ScriptedLLM")
LLM_CLIENTS.add("replay", "thunlp_repro.shared.llm.replay:ReplayLLM")


def build_client(key: str, **kwargs) -> LLMClient:
    """Instantiate the registered client `key` with `kwargs`."""
    return LLM_CLIENTS.get(key)(**kwargs)


__all__ = [
    "LLM_CLIENTS",
    "ChatRequest",
    "ChatResult",
    "ContextOverflow",
    "LLMClient",
    "LLMError",
    "Usage",
    "build_client",
    "request_hash",
]
