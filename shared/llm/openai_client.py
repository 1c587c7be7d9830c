"""The `openai` client against any OpenAI-compatible server (OpenAI, Azure, llama.cpp, vLLM, ...).

- `base_url` precedence: explicit argument (CLI flag / config) > `OPENAI_BASE_URL` > `BASE_URL`
  (the variable the official repo reads, issue #312).
- The API key is read lazily from the *named* variable at the first call, never at import
  (the repo's import-time `KeyError`); a local server accepts any value (default "local").
- The client's own retries are off; ours retry connection errors, timeouts, 408/409/429/5xx with
  exponential backoff and full jitter, honouring `Retry-After`; 400/401/403/404 fail fast with an
  `LLMError` naming provider, URL, model, status, the server's message and the key *variable*.
- `openai` is imported inside functions so `thunlp-repro --help` never imports it.

Reproduces: chatdev.md §2.13 (pitfalls #10, #11).
"""

from __future__ import annotations

import logging
import os
import random
import time
from typing import Any

from thunlp_repro.shared.llm.base import ChatRequest, ChatResult, LLMError, Usage, estimate_usage

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))


def resolve_base_url(explicit: str | None) -> str | None:
    """CLI/config value, else `OPENAI_BASE_URL`, else the legacy `BASE_URL`, else None (OpenAI)."""
    return explicit or os.environ.get("OPENAI_BASE_URL") or os.environ.get("BASE_URL") or None


class OpenAIClient:
    """Chat completions through the official `openai` package, with our retries.

    Args:
        model: Default model (Azure: deployment name); a request's own model wins.
        base_url: Server URL ending in `/v1` for OpenAI-compatible servers (None: see above).
        provider: "openai" or "azure".
        api_key_env: Name of the environment variable holding the key.
        default_api_key: Used when the variable is unset (e.g. "local" for llama.cpp); None means
            a missing variable is an error.
        api_version: Azure API version.
        timeout_s: Per-request timeout.
        max_attempts: Attempts per call, retries included.
        backoff_base_s: First backoff; attempt k waits up to base * 2^k (full jitter).
        backoff_max_s: Cap on one wait (Retry-After included).
        send_tags: Send request tags as `X-Chatdev-<Name>` headers (harmless for real servers;
            the scripted test server routes on them).
    """

    name = "openai"

    def __init__(
        self,
        model: str = "gpt-3.5-turbo-16k",
        *,
        base_url: str | None = None,
        provider: str = "openai",
        api_key_env: str | None = None,
        default_api_key: str | None = None,
        api_version: str | None = None,
        timeout_s: float = 120.0,
        max_attempts: int = 6,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 60.0,
        send_tags: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        if provider not in ("openai", "azure"):
            raise LLMError(f"unknown provider '{provider}' (openai | azure)")
        self.model = model
        self.provider = provider
        self.base_url = resolve_base_url(base_url)
        self.api_key_env = api_key_env or (
            "AZURE_OPENAI_API_KEY" if provider == "azure" else "OPENAI_API_KEY"
        )
        self.default_api_key = default_api_key
        self.api_version = api_version or os.environ.get("OPENAI_API_VERSION")
        self.timeout_s = timeout_s
        self.max_attempts = max(1, int(max_attempts))
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.send_tags = send_tags
        self._rng = rng or random.Random()
        self._client: Any = None

    # ------------------------------------------------------------------ set-up
    def _where(self, model: str) -> str:
        return (
            f"provider={self.provider} base_url={self.base_url or 'https://api.openai.com/v1'} "
            f"model={model}"
        )

    def _api_key(self) -> str:
        key = os.environ.get(self.api_key_env) or self.default_api_key
        if not key:
            raise LLMError(
                f"no API key: set the environment variable {self.api_key_env} "
                f"({self._where(self.model)})"
            )
        return key

    def _get_client(self) -> Any:
        if self._client is None:
            import openai  # lazy: keeps the CLI fast

            key = self._api_key()
            if self.provider == "azure":
                if not self.base_url:
                    raise LLMError("provider azure needs --base-url (the Azure endpoint)")
                self._client = openai.AzureOpenAI(
                    azure_endpoint=self.base_url,
                    api_key=key,
                    api_version=self.api_version or "2024-06-01",
                    timeout=self.timeout_s,
                    max_retries=0,
                )
            else:
                self._client = openai.OpenAI(
                    base_url=self.base_url, api_key=key, timeout=self.timeout_s, max_retries=0
                )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------ calls
    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        wait = self._rng.uniform(0, self.backoff_base_s * (2**attempt))
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.backoff_max_s)

    def chat(self, request: ChatRequest) -> ChatResult:
        """Send one request with retries.

        Raises:
            LLMError: non-retryable status, or retries exhausted (names the last cause).
        """
        import openai

        client = self._get_client()
        model = request.model or self.model
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": request.messages,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = request.stop
        if self.send_tags and request.tags:
            kwargs["extra_headers"] = {
                f"X-Chatdev-{k.replace('_', '-').title()}": str(v)
                for k, v in request.tags.items()
                if v is not None
            }
        start = time.monotonic()
        last: str = ""
        status: int | None = None
        for attempt in range(self.max_attempts):
            retry_after: float | None = None
            try:
                response = client.chat.completions.create(**kwargs)
            except openai.APIStatusError as exc:
                status = exc.status_code
                last = _server_message(exc)
                if status not in RETRY_STATUSES:
                    raise LLMError(
                        f"LLM call failed: HTTP {status}: {last} ({self._where(model)}; "
                        f"key variable {self.api_key_env})",
                        status=status,
                        attempts=attempt + 1,
                    ) from None
                retry_after = _retry_after(exc)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                status = None
                last = f"{exc.__class__.__name__}: {exc}"
            except openai.APIResponseValidationError as exc:
                status = getattr(exc, "status_code", None)
                last = f"malformed response: {exc}"
            except ValueError as exc:  # e.g. JSON decoding of a malformed body
                status = None
                last = f"malformed response: {exc}"
            else:
                return self._result(request, response, attempt + 1, time.monotonic() - start)
            if attempt + 1 < self.max_attempts:
                wait = self._backoff(attempt, retry_after)
                logger.warning(
                    "LLM call attempt %d/%d failed (%s); retrying in %.2f s",
                    attempt + 1, self.max_attempts, last, wait,
                )  # fmt: skip
                time.sleep(wait)
        raise LLMError(
            f"LLM call failed after {self.max_attempts} attempts: "
            f"{'HTTP ' + str(status) + ': ' if status else ''}{last} ({self._where(model)})",
            status=status,
            attempts=self.max_attempts,
        )

    def _result(
        self, request: ChatRequest, response: Any, attempts: int, latency: float
    ) -> ChatResult:
        choices = getattr(response, "choices", None)
        if not choices:
            raise LLMError(f"LLM response has no choices ({self._where(request.model)})")
        choice = choices[0]
        content = (choice.message.content if choice.message else None) or ""
        usage = getattr(response, "usage", None)
        if usage is not None and getattr(usage, "prompt_tokens", None) is not None:
            u = Usage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))
            source = "api"
        else:
            u = estimate_usage(request, content)
            source = "estimated"
        return ChatResult(
            content=content,
            finish_reason=choice.finish_reason,
            usage=u,
            usage_source=source,
            attempts=attempts,
            latency_s=latency,
            model=getattr(response, "model", None),
        )


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        return str(err)
    return str(getattr(exc, "message", None) or exc)


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
