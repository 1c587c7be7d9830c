"""`transcript.jsonl`: one record per LLM call, appended and flushed per call.

Record fields (chatdev.md §2.14): seq, project_id, phase, loop, cycle, turn, speaker, cdh_step,
request (provider, model, messages, sampling), request_hash, response (content, finish_reason),
usage, usage_source, cost_usd, latency_s, attempts, error, time. No API keys are ever written.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from thunlp_repro.shared.llm.base import ChatRequest, ChatResult


def make_record(
    seq: int,
    request: ChatRequest,
    result: ChatResult | None,
    *,
    provider: str,
    cost_usd: float | None,
    error: str | None = None,
    **labels: Any,
) -> dict[str, Any]:
    """Build one transcript record (labels: project_id, phase, loop, cycle, turn, speaker, ...)."""
    record: dict[str, Any] = {"seq": seq, **labels}
    record["request"] = {"provider": provider, **request.payload()}
    record["request_hash"] = request.hash()
    if result is not None:
        record["response"] = {"content": result.content, "finish_reason": result.finish_reason}
        record["usage"] = result.usage.to_dict()
        record["usage_source"] = result.usage_source
        record["latency_s"] = round(result.latency_s, 4)
        record["attempts"] = result.attempts
    else:
        record["response"] = None
        record["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        record["usage_source"] = None
        record["latency_s"] = None
        record["attempts"] = None
    record["cost_usd"] = cost_usd
    record["error"] = error
    record["time"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return record


class TranscriptWriter:
    """Appends records to a JSONL file, flushing (and fsyncing) after each one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: list[dict[str, Any]] = []

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def read_transcript(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All records of a transcript file, in order."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
