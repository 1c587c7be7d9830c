"""The official-style log: read it back with a small parser written from the official format
(records `[%Y-%d-%m %H:%M:%S INFO] ...`, the statistics' line counts, the Software Info block,
the chat turns per phase) and check every number against our transcript and meta.json."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.unit.chatdev.test_warehouse import make_run
from thunlp_repro.chatdev.official_log import body, info_block, model_type

# ---------------------------------------------------------------- the parser (official format)
RECORD = re.compile(r"^\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (\w+)\] ", re.M)
TURN = re.compile(r"(?P<who>[^:\n]+): \*\*(?P<a>[^\n]+?)<->(?P<i>[^\n]+?) on : (?P<phase>\w+), "
                  r"turn (?P<turn>\d+)\*\*\n")  # fmt: skip
FIELD = re.compile(r"\*\*(\w+)\*\*=\$?(-?\d+(?:\.\d+)?)")


def parse_log(text: str) -> dict:
    """Records, the statistics' counts and the Software Info blocks of an official log."""
    heads = list(RECORD.finditer(text))
    records = []
    for n, head in enumerate(heads):
        end = heads[n + 1].start() if n + 1 < len(heads) else len(text)
        records.append({"date": head.group(1), "level": head.group(2),
                        "text": text[head.end():end]})  # fmt: skip
    lines = text.split("\n")

    def summed(key: str) -> int:
        return sum(int(ln.split(": ")[-1]) for ln in lines if ln.startswith(f"{key}:"))

    infos = []
    for rec in records:
        at = rec["text"].find("Software Info")
        if at >= 0:
            infos.append({k: float(v) for k, v in FIELD.findall(rec["text"][at:])})
    model = next(ln for ln in lines if "| **model_type** |" in ln)
    return {
        "records": records,
        "utterances": sum("**[Start Chat]**" in ln for ln in lines)
        + sum("<->" in ln for ln in lines),
        "reflections": sum("on : Reflection" in ln for ln in lines),
        "prompt_tokens": summed("prompt_tokens"),
        "completion_tokens": summed("completion_tokens"),
        "total_tokens": summed("total_tokens"),
        "turns": [m.groupdict() for m in (TURN.match(r["text"]) for r in records) if m],
        "model_type": model.split("| **model_type** | ModelType.")[-1].split(" |")[0],
        "infos": infos,
    }


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def project(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", "test-key")
    mp.delenv("OPENAI_BASE_URL", raising=False)
    try:
        result = make_run(tmp_path_factory.mktemp("log"))
    finally:
        mp.undo()
    assert result.status == "done", result.reason
    folder = Path(result.meta["warehouse"])
    text = (folder / f"{folder.name}.log").read_text(encoding="utf-8")
    transcript = [
        json.loads(x) for x in (result.path / "transcript.jsonl").read_text().splitlines()
    ]
    events = [json.loads(x) for x in (result.path / "events.jsonl").read_text().splitlines()]
    return result, folder, parse_log(text), transcript, events


def test_records_and_dates(project):
    result, folder, log, _, _ = project
    assert log["records"][0]["text"].startswith("**[Preprocessing]**")
    assert log["records"][-1]["text"].startswith("**[Post Info]**")
    started = dt.datetime.fromisoformat(result.meta["started_at"])
    for rec in log["records"]:
        assert rec["level"] == "INFO"
        when = dt.datetime.strptime(rec["date"], "%Y-%d-%m %H:%M:%S")  # the repo's day-month order
        assert abs((when - started.replace(tzinfo=None)).total_seconds()) < 120
    stamp = folder.name.rsplit("_", 1)[1]
    post = log["records"][-1]["text"]
    assert f"ChatDev Starts ({stamp})" in post and re.search(r"ChatDev Ends \(\d{14}\)", post)
    assert re.search(rf"🕑\*\*duration\*\*={result.meta['duration_s']:.2f}s", post)
    assert log["model_type"] == "FAKE_MODEL"


def test_statistics_equal_the_transcript(project):
    result, _, log, transcript, events = project
    tokens = result.meta["tokens"]
    assert log["prompt_tokens"] == tokens["prompt_tokens"] > 0
    assert log["completion_tokens"] == tokens["completion_tokens"]
    assert log["total_tokens"] == tokens["total_tokens"]
    replied = [r for r in transcript if r.get("response")]
    chats = sum(e["event"] == "phase_start" for e in events) + result.meta["reflections"]
    assert log["utterances"] == chats + len(replied)  # Start Chat lines + `<->` lines
    assert log["reflections"] == result.meta["reflections"] == 1


def test_turns_per_phase_equal_the_transcript(project):
    _, _, log, transcript, _ = project

    def phase(r):
        return "Reflection" if r["phase"].endswith(".Reflection") else r["phase"]

    want = Counter(phase(r) for r in transcript if r.get("response"))
    assert Counter(t["phase"] for t in log["turns"]) == want
    speakers = [(t["phase"], t["who"]) for t in log["turns"]]
    assert speakers == [(phase(r), r["speaker"]) for r in transcript if r.get("response")]
    assert [int(t["turn"]) for t in log["turns"]] == [
        r["turn"] - 1 for r in transcript if r.get("response")
    ]  # 0-based, as the repo
    for t in log["turns"]:  # the header names the phase's assistant <-> instructor
        assert t["who"] in (t["a"], t["i"])


def test_software_info_blocks(project):
    result, folder, log, transcript, _ = project
    assert len(log["infos"]) == 2  # **[Software Info]**: and the Post Info's "Software Info:"
    post = dict(log["infos"][1])
    assert post.pop("duration") == round(result.meta["duration_s"], 2)
    assert log["infos"][0] == post
    info = log["infos"][0]
    assert info["num_utterances"] == log["utterances"]
    assert info["num_self_reflections"] == log["reflections"]
    assert info["num_prompt_tokens"] == log["prompt_tokens"]
    assert info["num_completion_tokens"] == log["completion_tokens"]
    assert info["num_total_tokens"] == log["total_tokens"]
    assert info["cost"] == pytest.approx(sum(r.get("cost_usd") or 0 for r in transcript))
    assert info["version_updates"] == result.meta["code_version"] + 1
    assert info["num_code_files"] == result.meta["n_files_repo"]
    assert info["code_lines"] == result.meta["n_lines_repo"]
    assert info["num_png_files"] == 0
    assert info["env_lines"] == len(result.meta["requirements"])
    manual = (result.code_dir / "manual.md").read_text()
    assert info["manual_lines"] == sum(1 for ln in manual.split("\n") if ln.strip())
    # documents = the folder's other files before the log (and our transcript copy) came in
    docs = [p for p in folder.iterdir() if p.is_file() and p.suffix not in (".py", ".png")]
    assert info["num_doc_files"] == len(docs) - 2


def test_replay_page_reading(project):
    """The visualizer's replay splits records at `\\n[<digit>` and reads role lines with
    `(.*):(...)<->(...)](...)` and `(.*):(.*)[Start Chat](...)](...)`: every utterance stays
    one record, with the speaker before the first colon."""
    _, folder, log, _, _ = project
    text = (folder / f"{folder.name}.log").read_text(encoding="utf-8")
    chunks = re.findall(r"\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \w+)\] ([\s\S]*?)(?=\n\[\d|$)",
                        text)  # fmt: skip
    assert len(chunks) == len(log["records"])
    said = [c for _, c in chunks if re.match(r"(.*):([\s\S]*)<->([\s\S]*?)\]([\s\S]*)", c)]
    said = [c for c in said if "System" not in c.split("\n")[0]]
    assert len(said) == len(log["turns"])
    starts = [c for _, c in chunks if re.match(r"(.*):(.*)(\[Start Chat\])", c)]
    assert len(starts) == log["utterances"] - len(log["turns"])


def test_body_escapes_what_the_parsers_count():
    text = "[1, 2] rolled\nprompt_tokens: 5\nuse a <-> b\n**[Start Chat]**\non : Reflection"
    safe = body(text)
    lines = safe.split("\n")
    assert lines[0] == " [1, 2] rolled" and lines[1] == " prompt_tokens: 5"
    assert "<->" not in safe and "**[Start Chat]**" not in safe and "on : Reflection" not in safe
    assert safe.replace("\u200b", "").replace(" [1", "[1").replace(" prompt", "prompt") == text
    assert model_type("gpt-4") == "GPT_4" and model_type("qwen2.5-coder") == "QWEN2_5_CODER"
    block = info_block({"cost": 0.5, "num_code_files": 2})
    assert "💰**cost**=$0.500000" in block and "📃**num_code_files**=2" in block
    assert "🔨**version_updates**=-1" in block  # unknown fields stay -1, as in the repo
