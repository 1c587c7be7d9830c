"""Replay backend: serves the responses of a recorded `transcript.jsonl`, with no network.

`strict` (default): call k must carry the recorded `request_hash` of record k, else the run stops
with "replay diverged at call k (phase, turn)" and a diff of the messages. `lenient`: look up by
hash in any order (each record served once).

Reproduces: chatdev.md §2.14.
"""

from __future__ import annotations

import difflib
import json
import os
from typing import Any

from thunlp_repro.shared.llm.base import ChatRequest, ChatResult, LLMError, Usage
from thunlp_repro.shared.llm.transcript import read_transcript


class ReplayLLM:
    """Answers from a transcript (records with an error are skipped)."""

    name = "replay"

    def __init__(
        self,
        transcript: str | os.PathLike[str] | list[dict[str, Any]],
        mode: str = "strict",
    ) -> None:
        if mode not in ("strict", "lenient"):
            raise LLMError(f"unknown replay mode '{mode}' (strict | lenient)")
        records = read_transcript(transcript) if not isinstance(transcript, list) else transcript
        self.records = [r for r in records if r.get("response") is not None and not r.get("error")]
        self.mode = mode
        self.position = 0
        self._used: set[int] = set()

    def _diverged(self, request: ChatRequest, record: dict[str, Any] | None) -> LLMError:
        k = self.position
        where = (
            f"phase {record.get('phase')}, turn {record.get('turn')}" if record else "past the end"
        )
        diff = ""
        if record is not None:
            old = json.dumps(record["request"].get("messages"), indent=1, ensure_ascii=False)
            new = json.dumps(request.messages, indent=1, ensure_ascii=False)
            lines = difflib.unified_diff(
                old.splitlines(), new.splitlines(), "recorded", "replayed", lineterm="", n=1
            )
            diff = "\n" + "\n".join(list(lines)[:40])
        return LLMError(f"replay diverged at call {k} ({where}){diff}")

    def chat(self, request: ChatRequest) -> ChatResult:
        digest = request.hash()
        if self.mode == "strict":
            if self.position >= len(self.records):
                raise self._diverged(request, None)
            record = self.records[self.position]
            if record.get("request_hash") != digest:
                raise self._diverged(request, record)
            index = self.position
        else:
            index = next(
                (
                    i
                    for i, r in enumerate(self.records)
                    if i not in self._used and r.get("request_hash") == digest
                ),
                -1,
            )
            if index < 0:
                raise LLMError(f"replay: no recorded response for request {digest[:12]}")
            record = self.records[index]
        self._used.add(index)
        self.position += 1
        usage = record.get("usage") or {}
        return ChatResult(
            content=record["response"]["content"],
            finish_reason=record["response"].get("finish_reason"),
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
            usage_source=record.get("usage_source") or "recorded",
            attempts=1,
            latency_s=0.0,
            model=record["request"].get("model"),
        )

    def close(self) -> None:
        pass
