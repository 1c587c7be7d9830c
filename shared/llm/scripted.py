"""Deterministic scripted LLM: rules matched on tags, call index or a regex decide each reply.

The same `Script` drives the in-process `ScriptedLLM` (unit tests of the phase machine) and the
fake OpenAI-compatible HTTP server (`thunlp_repro.chatdev.fake_server`), which adds fault
injection (429 with Retry-After, 500, slow replies, malformed JSON, missing usage, 401).
Usage counts are whitespace tokens, so accounting tests are exact.

Reproduces: chatdev.md §2.14 (fake server scripting); conventions.md §2.7 (`ScriptedLLM`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thunlp_repro.shared.llm.base import ChatRequest, ChatResult, LLMError, Usage


def count_tokens(text: str) -> int:
    """Whitespace tokens: the fake usage unit."""
    return len(text.split())


@dataclass
class Reply:
    """A scripted answer (status 200)."""

    content: str
    usage: bool = True  # False: the response omits `usage`
    delay_s: float = 0.0
    finish_reason: str = "stop"


@dataclass
class Fault:
    """A scripted failure: an HTTP status (with optional Retry-After), or a malformed body."""

    status: int = 500
    message: str = "injected fault"
    retry_after: float | None = None
    delay_s: float = 0.0
    malformed: bool = False  # status 200 with a body that is not JSON


@dataclass
class ScriptCall:
    """What a rule sees: the call index (0-based), messages, tags and the last message's text."""

    index: int
    messages: list[dict[str, str]]
    tags: dict[str, str]
    model: str = ""

    @property
    def last(self) -> str:
        return self.messages[-1].get("content") or "" if self.messages else ""

    @property
    def system(self) -> str:
        first = self.messages[0] if self.messages else {}
        return first.get("content") or "" if first.get("role") == "system" else ""


Response = str | Reply | Fault | Callable[[ScriptCall], "str | Reply | Fault"]


@dataclass
class Rule:
    """Reply with `response` when every given matcher agrees.

    Args:
        response: Text, a Reply, a Fault, or a function of the ScriptCall returning one.
        phase / speaker / role: Equal to the request tags of that name (case-insensitive).
        pattern: Regex searched in the last message.
        call: Only the call with this 0-based index.
        times: How often the rule may fire (None = always).
    """

    response: Response
    phase: str | None = None
    speaker: str | None = None
    role: str | None = None
    pattern: str | None = None
    call: int | None = None
    times: int | None = None
    used: int = field(default=0, init=False)

    def matches(self, call: ScriptCall) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.call is not None and call.index != self.call:
            return False
        for key in ("phase", "speaker", "role"):
            want = getattr(self, key)
            if want is not None and str(call.tags.get(key, "")).lower() != want.lower():
                return False
        if self.pattern is not None and not re.search(self.pattern, call.last, re.S):
            return False
        return True


class Script:
    """An ordered rule list; the first matching rule answers. Thread-safe."""

    def __init__(self, rules: list[Rule] | None = None, default: Response | None = None) -> None:
        self.rules = list(rules or [])
        self.default = default
        self.calls: list[ScriptCall] = []
        self._lock = threading.Lock()

    def add(self, response: Response, **match: Any) -> Script:
        """Append a rule (chainable)."""
        self.rules.append(Rule(response, **match))
        return self

    def prepend(self, response: Response, **match: Any) -> Script:
        """Insert a rule before all others (chainable)."""
        self.rules.insert(0, Rule(response, **match))
        return self

    def respond(self, messages: list[dict[str, str]], tags: dict[str, str], model: str = ""):
        """The Reply or Fault for the next call (records the call)."""
        with self._lock:
            call = ScriptCall(len(self.calls), messages, dict(tags), model)
            self.calls.append(call)
            for rule in self.rules:
                if rule.matches(call):
                    rule.used += 1
                    out = rule.response
                    break
            else:
                if self.default is None:
                    raise LookupError(
                        f"script has no rule for call {call.index} (tags {call.tags}, "
                        f"last message {call.last[:80]!r})"
                    )
                out = self.default
        if callable(out):
            out = out(call)
        return Reply(out) if isinstance(out, str) else out


class ScriptedLLM:
    """In-process LLM client answering from a `Script` (faults raise `LLMError`)."""

    name = "scripted"

    def __init__(self, script: Script | list[str], model: str = "scripted") -> None:
        if isinstance(script, list):
            script = Script([Rule(text, times=1) for text in script])
        self.script = script
        self.model = model

    def chat(self, request: ChatRequest) -> ChatResult:
        tags = {k: str(v) for k, v in request.tags.items() if v is not None}
        out = self.script.respond(request.messages, tags, request.model)
        if isinstance(out, Fault):
            raise LLMError(f"scripted fault: HTTP {out.status}: {out.message}", status=out.status)
        prompt = sum(count_tokens(m.get("content") or "") for m in request.messages)
        usage = Usage(prompt, count_tokens(out.content))
        return ChatResult(
            content=out.content,
            finish_reason=out.finish_reason,
            usage=usage,
            usage_source="api" if out.usage else "estimated",
            model=request.model,
        )

    def close(self) -> None:
        pass
