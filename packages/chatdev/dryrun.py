"""ChatDev paper scale, chatdev.md §3: what `chatdev run` / `chatdev batch` would call and pay.

An API model trains nothing, so the plan is tasks x chain items x LLM calls: the SRDD selection
(counted from the local CSV, never downloaded), the company's chain with the bounds on LLM calls
per task that its turns, loops, reflection, CDH questions and format re-asks allow (chatdev.md
§2.3-§2.8), the model checked against the price table (`shared/llm/models.yaml`) and the
estimated tokens and USD: 22,949 tokens per software [paper, Table 3], 80% of them prompt tokens
[chatdev.md §3, est.], at the model's prices; `budget.max_usd` x tasks is the hard ceiling.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from typing import Any

from thunlp_repro.shared.dryrun import DatasetEntry, DryRunPlan, ModelEntry, model_entry
from thunlp_repro.shared.errors import UsageError

TOKENS_PER_SOFTWARE = 22_949  # chatdev.md §3, Table 3 (ChatDev row, 22,949.4450) [paper]
SECONDS_PER_SOFTWARE = 148.2  # same table [paper]
PROMPT_SHARE = 0.8  # chatdev.md §3's assumption [est.]
SRDD_TASKS, SRDD_CATEGORIES = 1200, 40  # chatdev.md §3 [repo]
PAPER_MODELS = ("gpt-3.5-turbo-16k", "gpt-3.5-turbo-16k-0613")
CODE_PHASES = {"Coding", "CodeComplete", "CodeReviewModification", "TestModification"}
MIN_CYCLES = {"CodeCompleteAll": 0, "CodeReview": 1, "Test": 0}  # §2.7 break predicates


def _step_calls(step: Any, cfg: Any) -> tuple[int, int]:
    """(min, max) LLM calls of one SimplePhase occurrence under the protocol."""
    turns = cfg.protocol.default_turns if step.turns <= 0 else step.turns
    high = 1 if turns == 1 else 2 * turns  # one turn: the assistant only; else both agents
    if step.reflect:
        high += 1  # a one-turn Reflection chat when the phase ends unconcluded
    cdh = cfg.protocol.cdh
    if cdh.enabled and step.phase in cdh.phases:
        high += 2 * cdh.max_questions + 1  # each question: an answer and a new attempt; a nudge
    if step.phase in CODE_PHASES:
        high += cfg.protocol.format_retries
    return 1, high


def chain_calls(company: Any, cfg: Any) -> tuple[list[tuple[str, int, int]], int, int]:
    """Per chain item (name, min, max) LLM calls, up to `protocol.until`, and the totals."""
    rows = []
    for item in company.chain:
        cycles = cfg.protocol.cycles.get(item.name, item.cycles)
        lows, highs = zip(*(_step_calls(s, cfg) for s in item.steps), strict=True)
        if item.kind == "loop":
            low = MIN_CYCLES.get(item.name, 1) * lows[0]
            high = cycles * sum(highs)
        else:
            low, high = sum(lows), sum(highs)
        rows.append((item.name, low, high))
        if cfg.protocol.until == item.name:
            break
    return rows, sum(r[1] for r in rows), sum(r[2] for r in rows)


def check_llm_model(model: str, prices: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The model's price row; a near miss of a known model is a typo (UsageError)."""
    from thunlp_repro.shared.llm.pricing import model_info, model_table

    info = model_info(model, prices)
    if info:
        return info
    known = sorted(model_table(prices))
    close = difflib.get_close_matches(model, known, n=1, cutoff=0.85)
    if close:
        raise UsageError(f"unknown LLM model '{model}' (did you mean '{close[0]}'?); priced "
                         f"models: {', '.join(known)} (others: set llm.prices)")  # fmt: skip
    notes.append(f"{model} is not in shared/llm/models.yaml: price and context window unknown")
    return {}


def _srdd(srdd: str | None, limit: int | None, per_category: int | None, seed: int,
          categories: list[str] | None, notes: list[str]) -> tuple[int, DatasetEntry]:  # fmt: skip
    from thunlp_repro.shared.srdd import load_srdd, resolve_srdd_path, select

    where = resolve_srdd_path(srdd)
    if isinstance(where, str):  # a URL: count from the spec's numbers, download nothing
        per = per_category if per_category is not None else SRDD_TASKS // SRDD_CATEGORIES
        cats = len(categories) if categories else SRDD_CATEGORIES
        n = min(per * cats, limit) if limit is not None else per * cats
        notes.append(f"SRDD is a URL: task count from chatdev.md §3 ({SRDD_TASKS} tasks, "
                     f"{SRDD_CATEGORIES} categories x 30), not from the file")  # fmt: skip
        return n, DatasetEntry("srdd", f"{n} task(s)", f"URL {where}", "would download the CSV")
    tasks = load_srdd(where)
    chosen = select(tasks, limit, per_category, seed, categories=categories)
    n_cat = len({t.category for t in chosen})
    return len(chosen), DatasetEntry(
        "srdd", f"{len(chosen)} of {len(tasks)} task(s)", f"local CSV {where}",
        f"{n_cat} categor{'y' if n_cat == 1 else 'ies'}, seed {seed}",
    )  # fmt: skip


def chatdev_plan(cfg: Any, preset: str, *, command: str, single_task: str | None = None,
                 srdd: str | None = None, limit: int | None = None,
                 per_category: int | None = None, seed: int = 0,
                 categories: list[str] | None = None, embedder: str | None = None,
                 concurrency: int = 1) -> DryRunPlan:  # fmt: skip
    """The validated dry-run plan of a ChatDev run (`single_task`) or batch."""
    from thunlp_repro.chatdev.company import load_company

    notes: list[str] = []
    company = load_company(cfg.project.company, ignore_unsupported=cfg.project.ignore_unsupported)
    rows, low, high = chain_calls(company, cfg)
    whole = replace(cfg, protocol=replace(cfg.protocol, until=None))
    full = chain_calls(company, whole) if cfg.protocol.until else (rows, low, high)
    if cfg.protocol.until and cfg.protocol.until not in company.item_names():
        raise UsageError(f"protocol.until={cfg.protocol.until!r} is not a chain item; use one of "
                         f"{', '.join(company.item_names())}")  # fmt: skip
    llm = cfg.llm
    models: list[ModelEntry] = []
    price: dict[str, Any] = {}
    if llm.backend == "local":
        models.append(model_entry(llm.local_model, "LLM (llama.cpp, CPU)"))
        price = {"input_per_1m": 0.0, "output_per_1m": 0.0}
    elif llm.backend == "openai":
        price = check_llm_model(llm.model, llm.prices, notes)
        url = llm.base_url or os.environ.get("OPENAI_BASE_URL") or os.environ.get("BASE_URL")
        models.append(ModelEntry(llm.model, "LLM (API)", "api", url or "api.openai.com", None,
                                 f"none (API; key in ${llm.api_key_env})"))  # fmt: skip
        if llm.model not in PAPER_MODELS:
            notes.append(f"{llm.model} is not the paper's model ({', '.join(PAPER_MODELS)}): "
                         "label every table with it (chatdev.md §3)")  # fmt: skip
        if not os.environ.get(llm.api_key_env):
            notes.append(f"${llm.api_key_env} is not set: the real run would stop at its first "
                         "call")  # fmt: skip
    else:
        models.append(ModelEntry(llm.model, f"LLM ({llm.backend})", llm.backend, "", None,
                                 "none (recorded / scripted replies)"))  # fmt: skip
    if embedder and embedder != "hash" and not embedder.startswith("openai:"):
        models.append(model_entry(embedder, "consistency embedder"))
    elif embedder:
        models.append(ModelEntry(embedder, "consistency embedder", "api" if ":" in embedder
                                 else "hashed", download="none"))  # fmt: skip
    if single_task is not None:
        n_tasks = 1
        datasets = [DatasetEntry("task", "1 task", "--task text", single_task[:60])]
    else:
        n_tasks, entry = _srdd(srdd, limit, per_category, seed, categories, notes)
        datasets = [entry]
    scale = high / full[2] if full[2] else 1.0
    tokens = int(round(TOKENS_PER_SOFTWARE * scale))
    usd_task = None
    if price.get("input_per_1m") is not None and price.get("output_per_1m") is not None:
        usd_task = tokens * (PROMPT_SHARE * price["input_per_1m"]
                             + (1 - PROMPT_SHARE) * price["output_per_1m"]) / 1e6  # fmt: skip
    typical = max(low, round((low + high) / 2))
    src = "chatdev.md §3 / paper Table 3" + (
        f", scaled by the chain up to {cfg.protocol.until} [est.]" if scale != 1.0 else ""
    )
    api = {"tasks": n_tasks, "phases": len(rows), "calls_per_task": (low, high),
           "calls_typical": typical, "tokens_per_task": tokens, "tokens_source": src,
           "usd_per_task": usd_task, "usd_cap_per_task": cfg.budget.max_usd, "model": llm.model,
           "prompt_share": PROMPT_SHARE,
           "price_text": f"${price.get('input_per_1m')}/{price.get('output_per_1m')} per 1M "
                         "in/out"}  # fmt: skip
    notes.insert(0, "chain: " + ", ".join(f"{n} {lo}-{hi}" for n, lo, hi in rows)
                 + " LLM calls (min-max per task)")  # fmt: skip
    hours = SECONDS_PER_SOFTWARE * n_tasks / max(concurrency, 1) / 3600
    notes.append(
        f"wall time ~{hours:.1f} h at --concurrency {concurrency} "
        f"({SECONDS_PER_SOFTWARE:g} s per software [paper], if rate limits allow)"
    )
    plan = DryRunPlan("ChatDev (Qian et al., ACL 2024)", preset, command, models=models,
                      datasets=datasets, cost_kind="api", api=api, notes=notes)  # fmt: skip
    plan.validate()
    return plan


def table1_paper_plan() -> DryRunPlan:
    """The paper preset's main table over full SRDD (the `chatdev/table1` node's paper scale)."""
    from thunlp_repro.chatdev.config import load_chatdev_config

    cfg, _ = load_chatdev_config("paper")
    return chatdev_plan(
        cfg,
        "paper",
        embedder="minilm-l6",
        concurrency=8,
        command="thunlp-repro chatdev batch --preset paper --out OUT -j 8",
    )
