"""The official ChatDev log (`<name>_<org>_<timestamp>.log`), written from our transcript.

The official tools read this log: the visualizer's replay page splits it into records that start
with `[%Y-%d-%m %H:%M:%S INFO] ` and reads the role lines, and the repo's statistics count lines
in it. So the shapes below follow the repo's log; the text inside them is ours:

- `**[Preprocessing]**` (task, names, paths, config) at the start;
- per chat: `System: **[chatting]**` with a parameter table (its `| **model_type** |` row is
  where the statistics read the model), `<instructor>: **[Start Chat]**` with the assistant's
  system prompt in brackets and the phase prompt, then per LLM call an
  `**[OpenAI_Usage_Info Receive]**` block (`prompt_tokens: N` lines, summed by the statistics)
  and the utterance `<speaker>: **<assistant><->(instructor) on : <phase>, turn <i>**`
  (0-based turns; `num_utterances` = `[Start Chat]` lines + `<->` lines, `num_self_reflections`
  = lines with `on : Reflection`), and `**[Seminar Conclusion]**:` at its end;
- `**[Execute Detail]**` before each sub-phase of a loop, `**[Update Codes]**` with the diff,
  `**[Test Reports]**` / `**[Test Info]**` for sandbox runs;
- `**[Software Info]**:` and `**[Post Info]**` with `Software Info:`, the metrics block
  (cost, version_updates, num_code_files, ... num_total_tokens), the duration line and the
  `ChatDev Starts (...)` / `ChatDev Ends (...)` lines.

The repo writes its dates as `%Y-%d-%m` (pitfall #18); this log keeps that format on purpose,
for the official parsers; our own `log.txt` stays ISO 8601. Message bodies are written as
recorded except where they would break those parsers: a body line that starts with `[<digit>`
or with `prompt_tokens:` / `completion_tokens:` / `total_tokens:` gets one leading space, and
`<->`, `**[Start Chat]**` and `on : Reflection` inside a body get a zero-width space, so the
official counts equal ours.

Reproduces: chatdev.md §2.14-§2.15 (transcript, project output: the repo's WareHouse log, its
`chatdev/statistics.py` metrics and `visualizer/static/replay` reading of it).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: The repo's log date format (day before month, sic) and its folder timestamp format.
LOG_DATE_FORMAT = "%Y-%d-%m %H:%M:%S"
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
ZWSP = "\u200b"

#: Software Info fields in the repo's order, with the emoji each line starts with.
INFO_FIELDS = (
    ("cost", "💰"),
    ("version_updates", "🔨"),
    ("num_code_files", "📃"),
    ("num_png_files", "🏞"),
    ("num_doc_files", "📚"),
    ("code_lines", "📃"),
    ("env_lines", "📋"),
    ("manual_lines", "📒"),
    ("num_utterances", "🗣"),
    ("num_self_reflections", "🤔"),
    ("num_prompt_tokens", "❓"),
    ("num_completion_tokens", "❗"),
    ("num_total_tokens", "🌟"),
)

_MODEL_TYPES = {
    "gpt-3.5-turbo": "GPT_3_5_TURBO",
    "gpt-3.5-turbo-16k": "GPT_3_5_TURBO_NEW",
    "gpt-4": "GPT_4",
    "gpt-4-32k": "GPT_4_32k",
    "gpt-4-turbo": "GPT_4_TURBO",
    "gpt-4o": "GPT_4o",
    "gpt-4o-mini": "GPT_4O_MINI",
}
_COUNTED_PREFIXES = ("prompt_tokens:", "completion_tokens:", "total_tokens:")


# ------------------------------------------------------------------------------ helpers
def model_type(model: str | None) -> str:
    """The repo's `ModelType` member name for a model id (our id, upper-cased, otherwise)."""
    if not model:
        return "UNKNOWN"
    return _MODEL_TYPES.get(model, re.sub(r"\W", "_", model).upper())


def to_datetime(stamp: str | None) -> _dt.datetime | None:
    """Parse one of our ISO 8601 times (None when absent or unreadable)."""
    if not stamp:
        return None
    try:
        return _dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None


def log_date(when: _dt.datetime) -> str:
    return when.strftime(LOG_DATE_FORMAT)


def body(text: str | None) -> str:
    """A message body made safe for the official parsers (see the module docstring)."""
    text = (text or "").replace("\r\n", "\n")
    text = text.replace("<->", f"<-{ZWSP}>").replace("**[Start Chat]**", f"**[Start{ZWSP} Chat]**")
    text = text.replace("on : Reflection", f"on :{ZWSP} Reflection")
    lines = []
    for line in text.split("\n"):
        if re.match(r"\[\d", line) or line.startswith(_COUNTED_PREFIXES):
            line = " " + line
        lines.append(line)
    return "\n".join(lines)


def _cell(text: Any) -> str:
    """A markdown table cell on one line (as the repo's `escape_string` flattens them)."""
    flat = " ".join(str(text).split())
    return body(flat).replace("|", "\\|")


def table(rows: Iterable[tuple[str, Any]]) -> str:
    """The repo's two-column parameter table."""
    lines = ["| Parameter | Value |", "| --- | --- |"]
    lines += [f"| **{key}** | {_cell(value)} |" for key, value in rows]
    return "\n".join(lines)


def info_block(info: dict[str, Any]) -> str:
    """The metrics block (`\\n\\n💰**cost**=$0.000000\\n\\n🔨**version_updates**=...`)."""
    parts = []
    for key, emoji in INFO_FIELDS:
        value = info.get(key, -1)
        if key == "cost":
            parts.append(f"{emoji}**cost**=${float(value or 0):.6f}")
        else:
            parts.append(f"{emoji}**{key}**={value}")
    return "".join("\n\n" + p for p in parts)


def folder_info(folder: Path, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The file metrics the repo's statistics compute on a WareHouse folder (top level only).

    `.py` files are code, `.png` images, every other plain file a document; lines are the
    non-blank ones; `version_updates` is meta.txt's Code_Version + 1 (-1 without meta.txt);
    env/manual lines are -1 when requirements.txt / manual.md are missing. `skip` names files
    the repo would not see yet (the log, which it moves in afterwards).
    """
    skip = set(skip)
    names = sorted(p.name for p in folder.iterdir() if p.name not in skip)

    def nonblank(name: str) -> int:
        text = (folder / name).read_text(encoding="utf-8", errors="replace")
        return sum(1 for line in text.split("\n") if line.strip())

    files = [n for n in names if (folder / n).is_file()]
    code = [n for n in names if n.endswith(".py")]
    version = -1.0
    if "meta.txt" in files:
        lines = (folder / "meta.txt").read_text(encoding="utf-8").split("\n")
        at = [i for i, line in enumerate(lines) if "Code_Version" in line]
        if at and at[0] + 1 < len(lines):
            try:
                version = float(lines[at[0] + 1]) + 1
            except ValueError:
                version = -1.0
    return {
        "version_updates": version,
        "num_code_files": len(code),
        "num_png_files": sum(1 for n in names if n.endswith(".png")),
        "num_doc_files": sum(1 for n in files if not n.endswith((".py", ".png"))),
        "code_lines": sum(nonblank(n) for n in code if (folder / n).is_file()),
        "env_lines": nonblank("requirements.txt") if "requirements.txt" in files else -1,
        "manual_lines": nonblank("manual.md") if "manual.md" in files else -1,
    }


# ------------------------------------------------------------------------------ the log
class _Log:
    """Collects records with their times (a record without a time reuses the last one)."""

    def __init__(self, start: _dt.datetime) -> None:
        self.last = start
        self.records: list[str] = []

    def add(self, text: str, when: _dt.datetime | None = None) -> None:
        if when is not None:
            self.last = when
        self.records.append(f"[{log_date(self.last)} INFO] {text}\n")

    def render(self) -> str:
        return "\n".join(self.records)


def _system_prompt(record: dict[str, Any]) -> str:
    messages = (record.get("request") or {}).get("messages") or []
    if messages and messages[0].get("role") == "system":
        return str(messages[0].get("content") or "")
    return ""


def _last_message(record: dict[str, Any]) -> str:
    messages = (record.get("request") or {}).get("messages") or []
    return str(messages[-1].get("content") or "") if messages else ""


def _reply(record: dict[str, Any]) -> str | None:
    response = record.get("response")
    return None if not response else str(response.get("content") or "")


def _step_settings(company: Any, phase: str, loop: str | None) -> tuple[int | None, bool]:
    """Turn limit and reflect flag of a phase as the chain declares it."""
    for item in getattr(company, "chain", []) or []:
        if loop is not None and item.name != loop:
            continue
        for step in item.steps:
            if step.phase == phase:
                return step.turns, bool(step.reflect)
    return None, False


def render_log(
    *,
    task: str,
    project_name: str,
    org: str,
    timestamp: str,
    records: list[dict[str, Any]],
    events: list[dict[str, Any]],
    company: Any,
    model: str | None,
    info: dict[str, Any],
    started: _dt.datetime,
    finished: _dt.datetime,
    duration_s: float,
    log_path: str = "",
    config_paths: dict[str, str] | None = None,
    marker: str = "<INFO>",
    sampling: dict[str, Any] | None = None,
    default_turns: int = 10,
) -> str:
    """The whole official-style log of one project.

    Args:
        task: The task text.
        project_name: `--name`.
        org: `--org`.
        timestamp: The folder timestamp (`%Y%m%d%H%M%S`).
        records: transcript.jsonl records in order.
        events: events.jsonl records in order.
        company: The resolved company (roles, phases, chain, flags, recruitments).
        model: The model id (for the `model_type` row).
        info: File metrics of the folder (`folder_info`); the chat counts, tokens and cost are
            added here from `records`.
        started / finished: Wall-clock start and end of the run.
        duration_s: Run time in seconds (the duration line).
        log_path: Where the log is written (the Preprocessing block names it).
        config_paths: The three CompanyConfig files (Preprocessing block).
        marker: The conclusion marker (`<INFO>` unless the protocol sets another).
        sampling: temperature / top_p / seed for the ChatGPTConfig lines.
        default_turns: The turn limit of a step declared with `turns <= 0`.

    Returns:
        The log text.
    """
    log = _Log(started)
    paths = config_paths or {}
    flags = getattr(company, "flags", {}) or {}
    env_config = "\n".join(f"ChatEnvConfig.{k}: {bool(v)}" for k, v in sorted(flags.items()))
    sampling = sampling or {}
    gpt_config = "\n".join(f"{k}={v}" for k, v in sampling.items())
    log.add(
        "**[Preprocessing]**\n\n"
        f"**ChatDev Starts** ({timestamp})\n\n"
        f"**Timestamp**: {timestamp}\n\n"
        f"**config_path**: {paths.get('ChatChainConfig.json', '')}\n\n"
        f"**config_phase_path**: {paths.get('PhaseConfig.json', '')}\n\n"
        f"**config_role_path**: {paths.get('RoleConfig.json', '')}\n\n"
        f"**task_prompt**: {body(task)}\n\n"
        f"**project_name**: {project_name}\n\n"
        f"**org_name**: {org}\n\n"
        f"**Log File**: {log_path}\n\n"
        f"**ChatDevConfig**:\n{env_config}\n\n"
        f"**ChatGPTConfig**:\nmodel={model}\n{gpt_config}\n",
        started,
    )
    mtype = model_type(model)
    roles = getattr(company, "roles", {}) or {}
    phases = getattr(company, "phases", {}) or {}
    reflection = phases.get("Reflection")
    position = 0
    n_start, n_utter, n_reflect = 0, 0, 0
    current: dict[str, Any] | None = None

    def usage(record: dict[str, Any], when: _dt.datetime | None) -> None:
        used = record.get("usage")
        if not used:
            return
        cost = record.get("cost_usd") or 0.0
        log.add(
            "**[OpenAI_Usage_Info Receive]**\n"
            f"prompt_tokens: {int(used.get('prompt_tokens', 0))}\n"
            f"completion_tokens: {int(used.get('completion_tokens', 0))}\n"
            f"total_tokens: {int(used.get('total_tokens', 0))}\n"
            f"cost: ${float(cost):.6f}\n",
            when,
        )

    def chatting(phase: str, assistant: str, instructor: str, prompt: str, turns: Any,
                 reflect: bool, when: _dt.datetime | None) -> None:  # fmt: skip
        log.add(
            "System: **[chatting]**\n\n"
            + table([
                ("task_prompt", task), ("need_reflect", reflect),
                ("assistant_role_name", assistant), ("user_role_name", instructor),
                ("phase_prompt", prompt), ("phase_name", phase),
                ("assistant_role_prompt", roles.get(assistant, "")),
                ("user_role_prompt", roles.get(instructor, "")),
                ("chat_turn_limit", turns), ("model_type", f"ModelType.{mtype}"),
            ]),
            when,
        )  # fmt: skip

    def start_chat(instructor: str, system: str, prompt: str, when: _dt.datetime | None) -> None:
        nonlocal n_start
        n_start += 1
        log.add(f"{instructor}: **[Start Chat]**\n\n[{body(system)}]\n\n{body(prompt)}", when)

    def utterance(record: dict[str, Any], phase: str, assistant: str, instructor: str) -> None:
        nonlocal n_utter
        when = to_datetime(record.get("time"))
        usage(record, when)
        reply = _reply(record)
        if reply is None:
            return
        n_utter += 1
        speaker = record.get("speaker") or assistant
        turn = max(int(record.get("turn") or 1) - 1, 0)
        log.add(
            f"{speaker}: **{assistant}<->{instructor} on : {phase}, turn {turn}**\n\n"
            f"[{body(_system_prompt(record))}]\n\n{body(reply)}",
            when,
        )

    def open_chat(event: dict[str, Any]) -> dict[str, Any]:
        phase, loop = event.get("phase"), event.get("loop")
        assistant = event.get("assistant") or ""
        instructor = event.get("instructor") or ""
        when = to_datetime(event.get("time"))
        if loop:
            log.add(
                "**[Execute Detail]**\n\n"
                f"execute SimplePhase:[{phase}] in ComposedPhase:[{loop}], "
                f"cycle {event.get('cycle')}",
                when,
            )
        return {"phase": phase, "loop": loop, "cycle": event.get("cycle"), "assistant": assistant,
                "instructor": instructor, "when": when, "started": False, "last_reply": None,
                "reflection": None}  # fmt: skip

    def feed(chat: dict[str, Any], record: dict[str, Any]) -> None:
        """Log one record that belongs to the open chat (its own turns or its Reflection)."""
        nonlocal n_reflect
        phase = chat["phase"]
        if str(record.get("phase") or "").endswith(".Reflection"):
            assistant = reflection.assistant if reflection else (record.get("speaker") or "")
            instructor = reflection.instructor if reflection else "Counselor"
            prompt = _last_message(record)
            when = to_datetime(record.get("time"))
            chatting("Reflection", assistant, instructor, prompt, 1, False, when)
            start_chat(instructor, _system_prompt(record), prompt, when)
            utterance(record, "Reflection", assistant, instructor)
            n_reflect += 1
            reply = _reply(record)
            if reply is not None:
                log.add(f"**[Seminar Conclusion]**:\n\n {body(reply)}")
            return
        if not chat["started"]:
            chat["started"] = True
            turns, reflect = _step_settings(company, phase, chat["loop"])
            turns = turns if turns is not None and turns > 0 else default_turns
            prompt = _last_message(record)
            chatting(phase, chat["assistant"], chat["instructor"], prompt, turns, reflect,
                     chat["when"])  # fmt: skip
            start_chat(chat["instructor"], _system_prompt(record), prompt, chat["when"])
        utterance(record, phase, chat["assistant"], chat["instructor"])
        if record.get("role") == "assistant" and _reply(record) is not None:
            chat["last_reply"] = _reply(record)

    def key(record: dict[str, Any]) -> tuple[Any, Any, Any]:
        phase = str(record.get("phase") or "").removesuffix(".Reflection")
        return (phase, record.get("loop"), record.get("cycle"))

    chats = {(e.get("phase"), e.get("loop"), e.get("cycle")) for e in events
             if e.get("event") == "phase_start"}  # fmt: skip

    def orphan(record: dict[str, Any]) -> None:
        """A call outside any phase chat (none in a normal run): logged as it is."""
        phase = str(record.get("phase"))
        utterance(record, phase, record.get("speaker") or "", "")

    def drain(chat: dict[str, Any] | None) -> None:
        nonlocal position
        while position < len(records):
            record = records[position]
            if key(record) not in chats:
                orphan(record)
            elif chat is None or key(record) != (chat["phase"], chat["loop"], chat["cycle"]):
                return
            else:
                feed(chat, record)
            position += 1

    def close_chat(chat: dict[str, Any], event: dict[str, Any] | None) -> None:
        drain(chat)
        if not chat["started"]:
            return
        when = to_datetime(event.get("time")) if event else None
        if chat["reflection"] is not None:
            text = f"{marker} {chat['reflection']}"
        else:
            text = chat["last_reply"] or ""
        log.add(f"**[Seminar Conclusion]**:\n\n {body(text)}", when)

    for event in events:
        kind = event.get("event")
        when = to_datetime(event.get("time"))
        if kind == "phase_start":
            if current is not None:
                close_chat(current, None)
            current = open_chat(event)
            drain(current)
        elif kind == "phase_end":
            if current is not None:
                close_chat(current, event)
            current = None
        elif kind == "reflection" and current is not None:
            drain(current)
            current["reflection"] = event.get("conclusion")
        elif kind == "code_update":
            if current is not None:
                drain(current)
            log.add(
                f"**[Update Codes]**\n\n{event.get('path')} updated.\n\n```\n"
                f"{body(str(event.get('diff') or '').rstrip(chr(10)))}\n```\n",
                when,
            )
        elif kind == "sandbox":
            result = event.get("result") or {}
            verdict = event.get("verdict") or result.get("verdict")
            if verdict == "ok":
                log.add("**[Test Info]**\n\nAI User (Software Test Engineer):\nTest Pass!\n", when)
            else:
                report = (result.get("stderr") or result.get("detail") or "").strip()
                log.add(
                    f"**[Test Reports]**:\n\nverdict: {verdict}; exit code "
                    f"{result.get('exit_code')}; error type {result.get('error_type')}\n\n"
                    f"{body(report[-4000:])}\n",
                    when,
                )
        elif kind == "chain_end":
            if current is not None:
                close_chat(current, None)
                current = None
    if current is not None:
        close_chat(current, None)
    while position < len(records):  # calls after the last chat (an interrupted run)
        orphan(records[position])
        position += 1
    totals = {
        "num_utterances": n_start + n_utter,
        "num_self_reflections": n_reflect,
        "num_prompt_tokens": sum(int((r.get("usage") or {}).get("prompt_tokens", 0))
                                 for r in records),
        "num_completion_tokens": sum(int((r.get("usage") or {}).get("completion_tokens", 0))
                                     for r in records),
        "num_total_tokens": sum(int((r.get("usage") or {}).get("total_tokens", 0))
                                for r in records),
        "cost": sum(float(r.get("cost_usd") or 0.0) for r in records),
    }  # fmt: skip
    full = {**info, **totals}
    block = info_block(full)
    log.add(f"**[Software Info]**:\n\n {block}", finished)
    end_stamp = finished.strftime(TIMESTAMP_FORMAT)
    log.add(
        f"**[Post Info]**\n\nSoftware Info: {block}\n\n🕑**duration**={duration_s:.2f}s\n\n"
        f"ChatDev Starts ({timestamp})\n\nChatDev Ends ({end_stamp})\n\n",
        finished,
    )
    return log.render()
