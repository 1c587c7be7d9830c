"""`chatdev view RUN`: one self-contained HTML page that replays a project's chat chain.

The page (inline CSS and JavaScript, no network, nothing fetched) is built from the run folder's
`events.jsonl`, `transcript.jsonl` and `meta.json`. It lists the chain step by step, every
SimplePhase chat with its roles (assistant <- instructor), messages (CDH steps and Reflection
included), the code diff the phase made (`code_update` events), tokens and seconds, and every
sandbox run with its verdict; a bar chart draws the tokens per phase, and Prev / Play / Next
step through the chain as the official visualizer's replay does with its log. All recorded text
is inserted with `textContent`, never as HTML: the generated code is untrusted.

Reproduces: chatdev.md §2.14-§2.15 (transcript and events of a project); the repo's visualizer
replay (`visualizer/static/replay.html`) as a static page over our own records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thunlp_repro.shared.errors import UsageError

_TAIL = 4000  # characters of program output kept per sandbox run


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{n}: not JSON ({exc.msg})") from None
    return out


def _key(record: dict[str, Any]) -> tuple[Any, Any, Any]:
    phase = str(record.get("phase") or "").removesuffix(".Reflection")
    return (phase, record.get("loop"), record.get("cycle"))


def _usage(records: list[dict[str, Any]]) -> dict[str, int]:
    out = {"prompt": 0, "completion": 0, "total": 0}
    for r in records:
        u = r.get("usage") or {}
        out["prompt"] += int(u.get("prompt_tokens", 0))
        out["completion"] += int(u.get("completion_tokens", 0))
        out["total"] += int(u.get("total_tokens", 0))
    return out


def _message(record: dict[str, Any]) -> dict[str, Any]:
    response = record.get("response") or {}
    messages = (record.get("request") or {}).get("messages") or []
    return {
        "speaker": record.get("speaker"),
        "role": record.get("role"),
        "turn": record.get("turn"),
        "cdh_step": record.get("cdh_step"),
        "reflection": str(record.get("phase") or "").endswith(".Reflection"),
        "asked": str(messages[-1].get("content") or "") if messages else "",
        "content": response.get("content") if response else None,
        "error": record.get("error"),
        "tokens": int((record.get("usage") or {}).get("total_tokens", 0)),
        "latency_s": record.get("latency_s"),
    }


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """The page's data: the run's summary and its steps (chats and sandbox runs) in order.

    Raises:
        UsageError: the folder is not a ChatDev run folder.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a folder")
    missing = [n for n in ("events.jsonl", "transcript.jsonl") if not (run_dir / n).is_file()]
    if missing:
        raise UsageError(f"{run_dir} is not a ChatDev run folder (no {', '.join(missing)})")
    events = _read_jsonl(run_dir / "events.jsonl")
    records = _read_jsonl(run_dir / "transcript.jsonl")
    meta: dict[str, Any] = {}
    if (run_dir / "meta.json").is_file():
        meta = json.loads((run_dir / "meta.json").read_text(encoding="utf-8"))
    timings = list(meta.get("phase_timings") or [])
    chats = {(e.get("phase"), e.get("loop"), e.get("cycle")) for e in events
             if e.get("event") == "phase_start"}  # fmt: skip
    steps: list[dict[str, Any]] = []
    position = 0
    current: dict[str, Any] | None = None
    outside: list[dict[str, Any]] = []

    def take(step: dict[str, Any] | None) -> None:
        nonlocal position
        while position < len(records):
            record = records[position]
            if _key(record) not in chats:
                outside.append(record)
            elif step is None or _key(record) != step["_key"]:
                return
            else:
                step["_records"].append(record)
            position += 1

    def seconds(step: dict[str, Any]) -> float | None:
        for i, t in enumerate(timings):
            if (t.get("phase"), t.get("loop"), t.get("cycle")) == step["_key"]:
                timings.pop(i)
                return t.get("duration_s")
        return None

    def close(step: dict[str, Any]) -> None:
        take(step)
        step["seconds"] = seconds(step)

    for event in events:
        kind = event.get("event")
        if kind == "phase_start":
            if current is not None:
                close(current)
            key = (event.get("phase"), event.get("loop"), event.get("cycle"))
            current = {"kind": "chat", "phase": event.get("phase"), "loop": event.get("loop"),
                       "cycle": event.get("cycle"), "assistant": event.get("assistant"),
                       "instructor": event.get("instructor"), "diffs": [], "notes": [],
                       "conclusion": None, "concluded": None, "_key": key,
                       "_records": []}  # fmt: skip
            steps.append(current)
            take(current)
        elif kind == "phase_end" and current is not None:
            close(current)
            current["conclusion"] = event.get("conclusion")
            current["concluded"] = event.get("concluded")
            current = None
        elif kind == "code_update":
            target = current if current is not None else (steps[-1] if steps else None)
            if target is not None:
                target["diffs"].append({"path": event.get("path"), "diff": event.get("diff"),
                                        "version": event.get("version")})  # fmt: skip
        elif kind in ("reflection", "cdh", "format_failure", "review_finished",
                      "review_unchanged_stop", "complete_target", "until"):  # fmt: skip
            brief = {k: v for k, v in event.items() if k not in ("seq", "time", "event")}
            note = kind + (" " + json.dumps(brief, ensure_ascii=False) if brief else "")
            target = current if current is not None else (steps[-1] if steps else None)
            if target is not None:
                target["notes"].append(note)
        elif kind == "sandbox":
            result = event.get("result") or {}
            steps.append({
                "kind": "test", "phase": "Test run", "verdict": event.get("verdict")
                or result.get("verdict"), "exit_code": result.get("exit_code"),
                "error_type": result.get("error_type"), "seconds": result.get("duration_s"),
                "entry": result.get("entry"), "isolation": result.get("isolation"),
                "stdout": (result.get("stdout") or "")[-_TAIL:],
                "stderr": (result.get("stderr") or "")[-_TAIL:],
            })  # fmt: skip
    if current is not None:
        close(current)
    take(None)
    outside.extend(records[position:])
    if outside:
        steps.append({"kind": "chat", "phase": "(calls outside a phase)", "loop": None,
                      "cycle": None, "assistant": None, "instructor": None, "diffs": [],
                      "notes": [], "conclusion": None, "concluded": None, "seconds": None,
                      "_key": None, "_records": outside})  # fmt: skip
    for i, step in enumerate(steps):
        step["index"] = i
        if step["kind"] == "chat":
            recs = step.pop("_records")
            step.pop("_key")
            step["tokens"] = _usage(recs)
            step["calls"] = len(recs)
            step["messages"] = [_message(r) for r in recs]
            step["prompt"] = step["messages"][0]["asked"] if step["messages"] else ""
        else:
            step["tokens"] = {"prompt": 0, "completion": 0, "total": 0}
            step["calls"] = 0
    task = meta.get("task")
    if task is None and (run_dir / "task.prompt").is_file():
        task = (run_dir / "task.prompt").read_text(encoding="utf-8")
    return {
        "name": meta.get("name") or run_dir.name,
        "folder": str(run_dir),
        "task": task or "",
        "status": meta.get("status"),
        "reason": meta.get("reason"),
        "model": meta.get("model"),
        "final_verdict": meta.get("final_verdict"),
        "duration_s": meta.get("duration_s"),
        "code_version": meta.get("code_version"),
        "files": meta.get("files") or [],
        "tokens": _usage(records),
        "llm_calls": len(records),
        "steps": steps,
    }


def render_html(data: dict[str, Any]) -> str:
    """The page with `data` embedded (as JSON that cannot close its script tag)."""
    payload = json.dumps(data, ensure_ascii=False, default=str)
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    payload = payload.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    title = f"ChatDev run {data.get('name')}"
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _PAGE.replace("__TITLE__", safe_title).replace("__RUN_DATA__", payload)


def write_view(
    run_dir: str | Path, out: str | Path | None = None, *, overwrite: bool = False
) -> Path:
    """Write the page for a run folder.

    Args:
        run_dir: The run (project) folder.
        out: The HTML file; default `<run_dir>/view.html`.
        overwrite: Replace an existing file.

    Returns:
        The file written.

    Raises:
        UsageError: not a run folder, or `out` exists without `overwrite`.
    """
    run_dir = Path(run_dir)
    target = Path(out) if out is not None else run_dir / "view.html"
    data = load_run(run_dir)
    if target.exists() and not overwrite:
        raise UsageError(f"{target} exists; pass --overwrite to replace it")
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name for --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(data), encoding="utf-8")
    return target


_PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1d2330; background: #f4f6fa; }
  header { background: #2b4c7e; color: #fff; padding: 14px 20px; }
  header h1 { margin: 0 0 4px; font-size: 20px; }
  header .task { opacity: .9; max-width: 1100px; }
  #summary { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
  .chip { background: rgba(255,255,255,.16); border-radius: 10px; padding: 2px 10px; }
  main { display: grid; grid-template-columns: 360px 1fr; gap: 14px; padding: 14px 20px; }
  #controls { display: flex; gap: 6px; margin-bottom: 8px; }
  button { border: 1px solid #9aa8bf; background: #fff; border-radius: 6px; padding: 3px 10px;
           cursor: pointer; }
  #phase-list { list-style: none; margin: 0; padding: 0; }
  .step { background: #fff; border: 1px solid #d5dbe6; border-left: 6px solid #7f93b5;
          border-radius: 6px; padding: 6px 8px; margin-bottom: 5px; cursor: pointer; }
  .step.test { border-left-color: #a0a0a0; }
  .step.current { outline: 2px solid #2b4c7e; }
  .step .name { font-weight: 600; }
  .step .meta { color: #56627a; font-size: 12px; }
  .verdict { display: inline-block; border-radius: 8px; padding: 0 7px; font-size: 12px;
             color: #fff; background: #7a7a7a; margin-left: 4px; }
  .verdict.ok, .verdict.alive { background: #2e8b57; }
  .verdict.crash, .verdict.error, .verdict.timeout { background: #c0392b; }
  #chart { background: #fff; border: 1px solid #d5dbe6; border-radius: 6px; margin-bottom: 8px; }
  #detail { background: #fff; border: 1px solid #d5dbe6; border-radius: 6px; padding: 10px 14px;
            min-height: 300px; overflow-x: auto; }
  .msg { border: 1px solid #e0e4ec; border-radius: 6px; margin: 8px 0; }
  .msg .who { background: #eef2f8; padding: 3px 8px; font-weight: 600; }
  .msg.instructor .who { background: #f6eef8; }
  .msg.reflection .who { background: #fff5e0; }
  pre { margin: 0; padding: 6px 8px; white-space: pre-wrap; word-break: break-word;
        font: 12px/1.35 ui-monospace, monospace; }
  .diff .add { background: #e6ffed; color: #11632a; display: block; }
  .diff .del { background: #ffeef0; color: #8a1c25; display: block; }
  .diff .hunk { color: #5a4fb0; display: block; }
  .note { color: #56627a; font-size: 12px; }
  h2 { font-size: 17px; margin: 4px 0 8px; }
  h3 { font-size: 14px; margin: 12px 0 4px; }
</style>
</head>
<body>
<header>
  <h1 id="title"></h1>
  <div class="task" id="task"></div>
  <div id="summary"></div>
</header>
<main>
  <section>
    <div id="controls">
      <button id="prev" type="button">&#9664; Prev</button>
      <button id="play" type="button">&#9654; Play</button>
      <button id="next" type="button">Next &#9654;</button>
    </div>
    <canvas id="chart" width="360" height="120"></canvas>
    <ol id="phase-list"></ol>
    <p id="render-status" class="note">JavaScript has not run.</p>
  </section>
  <section id="detail"></section>
</main>
<script type="application/json" id="run-data">__RUN_DATA__</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("run-data").textContent);
  var steps = data.steps || [];
  var current = -1;
  var timer = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function fmtSeconds(s) {
    return (s === null || s === undefined) ? "?" : Number(s).toFixed(2) + " s";
  }
  function stepName(step) {
    var name = step.phase || "?";
    if (step.loop) { name += " (" + step.loop + " #" + step.cycle + ")"; }
    return name;
  }
  function verdictOf(step) {
    if (step.kind === "test") { return step.verdict || "?"; }
    return null;
  }

  document.getElementById("title").textContent = "ChatDev run " + data.name;
  document.getElementById("task").textContent = data.task;
  var summary = document.getElementById("summary");
  [["status", data.status], ["final verdict", data.final_verdict], ["model", data.model],
   ["LLM calls", data.llm_calls], ["tokens", data.tokens.total],
   ["seconds", data.duration_s], ["code version", data.code_version]].forEach(function (kv) {
    summary.appendChild(el("span", "chip", kv[0] + ": " + (kv[1] === null ? "-" : kv[1])));
  });

  var list = document.getElementById("phase-list");
  steps.forEach(function (step, i) {
    var li = el("li", "step " + step.kind);
    li.setAttribute("data-index", String(i));
    li.setAttribute("data-phase", step.phase || "");
    var head = el("div", "name", (i + 1) + ". " + stepName(step));
    var v = verdictOf(step);
    if (v) {
      li.setAttribute("data-verdict", v);
      head.appendChild(el("span", "verdict " + v, v));
    }
    li.appendChild(head);
    var meta;
    if (step.kind === "chat") {
      meta = (step.assistant || "?") + " \u2190 " + (step.instructor || "?") + " \u00b7 " +
        step.calls + " calls \u00b7 " + step.tokens.total + " tokens \u00b7 " +
        fmtSeconds(step.seconds);
      if (step.diffs.length) { meta += " \u00b7 " + step.diffs.length + " file change(s)"; }
    } else {
      meta = "exit " + step.exit_code + " \u00b7 " + (step.error_type || "no error") + " \u00b7 " +
        fmtSeconds(step.seconds);
    }
    li.appendChild(el("div", "meta", meta));
    li.addEventListener("click", function () { stop(); show(i); });
    list.appendChild(li);
  });

  function drawChart() {
    var canvas = document.getElementById("chart");
    var ctx = canvas.getContext && canvas.getContext("2d");
    if (!ctx) { return; }
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    var chats = steps.filter(function (s) { return s.kind === "chat"; });
    var max = 1;
    chats.forEach(function (s) { max = Math.max(max, s.tokens.total); });
    var w = (canvas.width - 20) / Math.max(chats.length, 1);
    chats.forEach(function (s, i) {
      var h = Math.round((canvas.height - 30) * s.tokens.total / max);
      ctx.fillStyle = s.diffs.length ? "#e07b24" : "#2b4c7e";
      ctx.fillRect(10 + i * w + 1, canvas.height - 15 - h, Math.max(w - 2, 1), h);
    });
    ctx.fillStyle = "#1d2330";
    ctx.font = "11px sans-serif";
    ctx.fillText("tokens per phase (orange: changed code)", 10, 12);
  }

  function diffBlock(text) {
    var pre = el("pre", "diff");
    String(text || "").split("\n").forEach(function (line) {
      var cls = "";
      if (line.indexOf("+++") === 0 || line.indexOf("---") === 0) { cls = "hunk"; }
      else if (line.indexOf("@@") === 0) { cls = "hunk"; }
      else if (line.charAt(0) === "+") { cls = "add"; }
      else if (line.charAt(0) === "-") { cls = "del"; }
      var span = el("span", cls, line);
      pre.appendChild(span);
      if (!cls) { pre.appendChild(document.createTextNode("\n")); }
    });
    return pre;
  }

  function show(i) {
    if (i < 0 || i >= steps.length) { return; }
    current = i;
    Array.prototype.forEach.call(list.children, function (li, j) {
      li.classList.toggle("current", j === i);
    });
    var step = steps[i];
    var detail = document.getElementById("detail");
    detail.textContent = "";
    detail.appendChild(el("h2", null, (i + 1) + ". " + stepName(step)));
    if (step.kind === "test") {
      var p = el("p", null, "Sandbox run of " + (step.entry || "?") + " (" +
        (step.isolation || "?") + "): verdict ");
      p.appendChild(el("span", "verdict " + step.verdict, step.verdict));
      detail.appendChild(p);
      detail.appendChild(el("h3", null, "stdout"));
      detail.appendChild(el("pre", null, step.stdout || "(empty)"));
      detail.appendChild(el("h3", null, "stderr"));
      detail.appendChild(el("pre", null, step.stderr || "(empty)"));
      return;
    }
    detail.appendChild(el("p", "note", (step.assistant || "?") + " (assistant) \u2190 " +
      (step.instructor || "?") + " (instructor); " + step.tokens.prompt + " prompt + " +
      step.tokens.completion + " completion tokens; " + fmtSeconds(step.seconds)));
    if (step.prompt) {
      var first = el("div", "msg instructor");
      var label = (step.instructor || "instructor") + " \u2014 phase prompt";
      first.appendChild(el("div", "who", label));
      first.appendChild(el("pre", null, step.prompt));
      detail.appendChild(first);
    }
    step.messages.forEach(function (m) {
      var kind = m.reflection ? "reflection" : m.role;
      var box = el("div", "msg " + kind);
      var who = (m.speaker || "?") + " \u2014 turn " + m.turn;
      if (m.cdh_step) { who += " \u00b7 CDH " + m.cdh_step; }
      if (m.reflection) { who += " \u00b7 Reflection"; }
      who += " \u00b7 " + m.tokens + " tokens";
      box.appendChild(el("div", "who", who));
      var text = m.content === null ? "(no reply: " + m.error + ")" : m.content;
      box.appendChild(el("pre", null, text));
      detail.appendChild(box);
    });
    if (step.conclusion) {
      detail.appendChild(el("p", "note", "Conclusion: " + step.conclusion));
    }
    step.notes.forEach(function (n) { detail.appendChild(el("p", "note", n)); });
    if (step.diffs.length) {
      detail.appendChild(el("h3", null, "Code changes"));
      step.diffs.forEach(function (d) {
        detail.appendChild(el("div", "note", d.path + " (version " + d.version + ")"));
        detail.appendChild(diffBlock(d.diff));
      });
    }
  }

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    document.getElementById("play").textContent = "\u25b6 Play";
  }
  document.getElementById("prev").addEventListener("click", function () {
    stop(); show(current - 1);
  });
  document.getElementById("next").addEventListener("click", function () {
    stop(); show(current + 1);
  });
  document.getElementById("play").addEventListener("click", function () {
    if (timer !== null) { stop(); return; }
    if (current >= steps.length - 1) { show(0); }
    document.getElementById("play").textContent = "\u275a\u275a Pause";
    timer = setInterval(function () {
      if (current >= steps.length - 1) { stop(); return; }
      show(current + 1);
    }, 1500);
  });

  drawChart();
  if (steps.length) { show(0); }
  document.body.setAttribute("data-rendered", String(steps.length));
  document.getElementById("render-status").textContent = "Rendered " + steps.length + " steps.";
})();
</script>
</body>
</html>
"""
