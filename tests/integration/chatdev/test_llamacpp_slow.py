"""One real run against llama.cpp with `smollm2-135m` (the `smoke` tier; chatdev.md §4).

Skips cleanly when llama-cpp-python (the `local-llm` extra) or the GGUF asset is missing.
No quality gate: it checks the chat template, `usage`, timeouts and the output folder.
"""

from __future__ import annotations

import pytest

from thunlp_repro.chatdev.local_server import llama_cpp_available

pytestmark = pytest.mark.slow


def test_local_server_end_to_end(tmp_path):
    if not llama_cpp_available():
        pytest.skip("llama-cpp-python is not installed (pip install 'thunlp-repro[local-llm]')")
    try:
        from thunlp_repro.shared.assets import gguf_path

        gguf_path("smollm2-135m")
    except Exception as exc:  # ImportError or AssetMissingError
        pytest.skip(f"asset smollm2-135m unavailable: {exc}")
    from thunlp_repro.chatdev.config import load_chatdev_config
    from thunlp_repro.chatdev.pipeline import replay_project, run_project
    from thunlp_repro.shared.io import read_json

    cfg, _ = load_chatdev_config("smoke", overrides=["sandbox.timeout_s=5"])
    result = run_project("Write a Python program that prints the numbers 1 to 5.", name="smoke",
                         cfg=cfg, root=tmp_path, preset="smoke")  # fmt: skip
    assert result.status in ("done", "format_failure", "budget_exceeded"), result.reason
    meta = read_json(result.path / "meta.json")
    assert meta["llm_calls"] >= 3 and meta["tokens"]["completion_tokens"] > 0
    cost = read_json(result.path / "cost.json")
    assert cost["total"]["estimated_usage_calls"] == 0  # llama.cpp reports usage
    assert replay_project(result.path).identical
