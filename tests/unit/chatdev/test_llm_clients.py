"""The real `openai` client against the fake server: retries, errors, usage; replay; scripted
(chatdev.md §2.13-§2.14, §5.1.8)."""

from __future__ import annotations

import pytest

from thunlp_repro.chatdev.fake_server import FakeOpenAIServer
from thunlp_repro.shared.llm import LLM_CLIENTS, build_client
from thunlp_repro.shared.llm.base import ChatRequest, LLMError
from thunlp_repro.shared.llm.replay import ReplayLLM
from thunlp_repro.shared.llm.scripted import Fault, Reply, Rule, Script, ScriptedLLM
from thunlp_repro.shared.llm.transcript import make_record


def _client(server, **kw):
    kw.setdefault("max_attempts", 3)
    kw.setdefault("backoff_base_s", 0.01)
    return build_client("openai", model="fake-model", base_url=server.url, **kw)


def _req(text="hello there", **tags):
    return ChatRequest([{"role": "system", "content": "sys"}, {"role": "user", "content": text}],
                       model="fake-model", max_tokens=50, tags=tags)  # fmt: skip


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("BASE_URL", raising=False)


def test_registry_keys():
    assert LLM_CLIENTS.keys() == ["openai", "replay", "scripted"]


def test_reply_usage_and_tags():
    script = Script([Rule("ok then", phase="Coding", speaker="Programmer")])
    with FakeOpenAIServer(script) as server:
        result = _client(server).chat(_req(phase="Coding", speaker="Programmer"))
    assert result.content == "ok then" and result.attempts == 1
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (3, 2)
    assert result.usage_source == "api"
    body = server.chat_requests()[0]["body"]
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50


def test_429_then_success_is_one_result_with_two_attempts():
    script = Script([Rule(Fault(429, "slow down", retry_after=0), times=1), Rule("fine")])
    with FakeOpenAIServer(script) as server:
        result = _client(server).chat(_req())
    assert result.content == "fine" and result.attempts == 2
    assert len(server.chat_requests()) == 2


def test_500_retried_then_gives_up_with_cause():
    script = Script([Rule(Fault(500, "boom"))])
    with FakeOpenAIServer(script) as server:
        with pytest.raises(LLMError, match="after 3 attempts.*HTTP 500.*boom") as info:
            _client(server).chat(_req())
    assert info.value.status == 500 and len(server.chat_requests()) == 3


def test_401_fails_fast_naming_the_key_variable(monkeypatch):
    monkeypatch.setenv("MY_KEY", "wrong")
    with FakeOpenAIServer(Script([Rule("never")]), api_key="right") as server:
        with pytest.raises(LLMError, match="HTTP 401.*MY_KEY") as info:
            _client(server, api_key_env="MY_KEY").chat(_req())
    assert "wrong" not in str(info.value) and len(server.chat_requests()) == 1


def test_missing_key_is_clear_and_lazy(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    client = build_client("openai", model="m", base_url="http://127.0.0.1:9/v1")  # no error yet
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        client.chat(_req())


def test_missing_usage_is_estimated_and_malformed_retried():
    script = Script(
        [Rule(Fault(200, malformed=True), times=1), Rule(Reply("abc def", usage=False))]
    )
    with FakeOpenAIServer(script) as server:
        result = _client(server).chat(_req())
    assert result.usage_source == "estimated" and result.attempts == 2


def test_timeout_is_retried():
    script = Script([Rule(Reply("late", delay_s=1.5), times=1), Rule("quick")])
    with FakeOpenAIServer(script) as server:
        result = _client(server, timeout_s=0.5).chat(_req())
    assert result.content == "quick" and result.attempts == 2


def test_base_url_precedence(monkeypatch):
    from thunlp_repro.shared.llm.openai_client import resolve_base_url

    monkeypatch.setenv("BASE_URL", "http://legacy/v1")
    assert resolve_base_url(None) == "http://legacy/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env/v1")
    assert resolve_base_url(None) == "http://env/v1"
    assert resolve_base_url("http://flag/v1") == "http://flag/v1"


def test_embeddings_and_models_endpoints():
    import openai

    with FakeOpenAIServer(Script()) as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        assert [m.id for m in client.models.list()] == ["fake-model"]
        emb = client.embeddings.create(model="e", input=["a b", "a b"]).data
        assert emb[0].embedding == emb[1].embedding and len(emb[0].embedding) == 64


def test_replay_strict_and_lenient():
    scripted = ScriptedLLM(["one", "two"])
    r1, r2 = _req("first"), _req("second")
    records = [make_record(i, r, scripted.chat(r), provider="scripted", cost_usd=0.0)
               for i, r in enumerate((r1, r2))]  # fmt: skip
    replay = ReplayLLM(records)
    assert replay.chat(r1).content == "one" and replay.chat(r2).content == "two"
    with pytest.raises(LLMError, match="diverged at call 0"):
        ReplayLLM(records).chat(r2)
    lenient = ReplayLLM(records, mode="lenient")
    assert lenient.chat(r2).content == "two" and lenient.chat(r1).content == "one"
