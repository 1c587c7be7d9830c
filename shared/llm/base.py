"""LLM client protocol and the request/response types every backend shares.

A backend turns a `ChatRequest` (OpenAI-style messages plus sampling parameters and free-form
tags such as the ChatDev phase and speaker) into a `ChatResult` (content, finish reason, usage,
attempts, latency). Backends: `openai` (any OpenAI-compatible server), `scripted` (deterministic,
in-process) and `replay` (a recorded `transcript.jsonl`), registered in `LLM_CLIENTS`.

Reproduces: chatdev.md §2.13 (backend), §2.14 (request hash for replay); conventions.md §2.3.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from thunlp_repro.shared.errors import ReproError


class LLMError(ReproError):
    """A call failed for good (after retries, or on a non-retryable status).

    The message names provider, base URL, model, HTTP status, the server's message and the
    *name* of the API-key variable (never its value).
    """

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class ContextOverflow(LLMError):
    """The prompt leaves too little room for an answer in the model's context window."""


@dataclass
class Usage:
    """Token counts of one call (from the API's `usage` field, or estimated)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass
class ChatRequest:
    """One chat-completion request.

    Attributes:
        messages: OpenAI-style `{"role", "content"}` dicts, system first.
        model: Model name (Azure: deployment name).
        temperature: Sampling temperature (paper: 0.2).
        top_p: Nucleus sampling (repo: 1.0).
        max_tokens: Output cap; None lets the server decide.
        seed: Sent when set.
        stop: Stop strings.
        tags: Free-form labels (phase, speaker, ...). Not part of the request hash; the openai
            client sends them as `X-Chatdev-*` headers so a scripted test server can route on them.
    """

    messages: list[dict[str, str]]
    model: str
    temperature: float = 0.2
    top_p: float = 1.0
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    tags: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The request as recorded in the transcript (tags excluded)."""
        return {
            "model": self.model,
            "messages": [dict(m) for m in self.messages],
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": self.stop,
        }

    def hash(self) -> str:
        """sha256 of the canonical JSON of model, messages and sampling parameters."""
        return request_hash(self.payload())


def request_hash(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a request payload (see `ChatRequest.payload`)."""
    keys = ("model", "messages", "temperature", "top_p", "max_tokens", "seed", "stop")
    canon = json.dumps({k: payload.get(k) for k in keys}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


@dataclass
class ChatResult:
    """What a backend returns for one request."""

    content: str
    finish_reason: str | None = "stop"
    usage: Usage = field(default_factory=Usage)
    usage_source: str = "api"  # "api" | "estimated" | "recorded"
    attempts: int = 1
    latency_s: float = 0.0
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["usage"] = self.usage.to_dict()
        return out


@runtime_checkable
class LLMClient(Protocol):
    """Anything that answers chat requests."""

    name: str

    def chat(self, request: ChatRequest) -> ChatResult:
        """Answer one request (retries are the client's job).

        Raises:
            LLMError: the call failed for good.
        """
        ...

    def close(self) -> None:
        """Release connections (optional no-op)."""
        ...


def estimate_tokens(text: str) -> int:
    """Rough token estimate, characters / 3 (chatdev.md §2.13; no tiktoken on purpose)."""
    return max(1, len(text) // 3) if text else 0


def estimate_usage(request: ChatRequest, content: str) -> Usage:
    """Estimated usage when a server omits the `usage` field."""
    prompt = sum(estimate_tokens(m.get("content") or "") for m in request.messages)
    return Usage(prompt_tokens=prompt, completion_tokens=estimate_tokens(content))
