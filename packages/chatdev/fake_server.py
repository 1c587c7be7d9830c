"""A scripted fake OpenAI-compatible HTTP server on 127.0.0.1 (standard library only).

Endpoints: `POST /v1/chat/completions` (non-streaming), `GET /v1/models`, `POST /v1/embeddings`
(deterministic hashed bag-of-words vectors), `POST /v1/images/generations` (a tiny valid PNG per
picture as `b64_json`, its colour derived from the prompt; off with `images=False`, then 404).
Replies come from a `Script` (rules matched on the
`X-Chatdev-Phase/-Speaker/-Role` headers our client sends, the call index or a regex over the
last message); usage counts are whitespace tokens, so accounting is exact. Faults: 429 with
Retry-After, 500, slow replies, malformed JSON, missing usage, 401. Every request is kept in
`server.requests` so tests can count HTTP calls (replay must make none).

Reproduces: chatdev.md §2.14 ("Fake OpenAI-compatible HTTP server").
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from thunlp_repro.shared.llm.scripted import Fault, Reply, Script, count_tokens


def embed(text: str, dim: int = 64) -> list[float]:
    """Hashed bag-of-words vector, L2-normalised (deterministic)."""
    vec = [0.0] * dim
    for word in text.lower().split():
        h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big")
        vec[h % dim] += 1.0 if (h >> 8) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def tiny_png(seed: str = "", size: int = 2) -> bytes:
    """A valid `size` x `size` RGB PNG whose colour comes from `seed` (deterministic)."""
    r, g, b = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes([r, g, b]) * size  # filter byte 0, then RGB pixels
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit truecolour
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))  # fmt: skip


class FakeOpenAIServer:
    """Serve a `Script` over HTTP in a background thread.

    Args:
        script: The rules that answer chat requests.
        model: Name listed by `/v1/models`.
        api_key: If set, requests without `Authorization: Bearer <api_key>` get 401.
        images: Serve `/v1/images/generations` (False: 404, an endpoint without images).

    Use as a context manager, or call `start()` / `stop()`; `url` ends in `/v1`.
    """

    def __init__(self, script: Script, model: str = "fake-model", api_key: str | None = None,
                 images: bool = True):  # fmt: skip
        self.script = script
        self.model = model
        self.api_key = api_key
        self.images = images
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None):
                self._send(status, json.dumps(obj).encode(), headers)

            def _authorised(self) -> bool:
                if fake.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {fake.api_key}":
                    return True
                self._json(401, {"error": {"message": "Incorrect API key provided",
                                           "type": "invalid_request_error"}})  # fmt: skip
                return False

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [
                        {"id": fake.model, "object": "model", "owned_by": "fake"}]})  # fmt: skip
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._json(400, {"error": {"message": "invalid JSON body"}})
                    return
                tags = {
                    k[len("x-chatdev-"):].replace("-", "_"): v
                    for k, v in ((k.lower(), v) for k, v in self.headers.items())
                    if k.startswith("x-chatdev-")
                }  # fmt: skip
                fake.requests.append({"path": self.path, "body": body, "tags": tags})
                if not self._authorised():
                    return
                if self.path.rstrip("/").endswith("/embeddings"):
                    inputs = body.get("input", [])
                    inputs = [inputs] if isinstance(inputs, str) else inputs
                    data = [{"object": "embedding", "index": i, "embedding": embed(t)}
                            for i, t in enumerate(inputs)]  # fmt: skip
                    n = sum(count_tokens(t) for t in inputs)
                    self._json(200, {"object": "list", "data": data, "model": body.get("model"),
                                     "usage": {"prompt_tokens": n, "total_tokens": n}})  # fmt: skip
                    return
                if self.path.rstrip("/").endswith("/images/generations") and fake.images:
                    prompt = str(body.get("prompt") or "")
                    if not prompt.strip():
                        self._json(400, {"error": {"message": "prompt is required"}})
                        return
                    n = int(body.get("n") or 1)
                    if body.get("response_format", "url") != "b64_json":
                        self._json(400, {"error": {"message": "the fake server only sends "
                                                   "response_format b64_json"}})  # fmt: skip
                        return
                    data = [{"b64_json": base64.b64encode(tiny_png(f"{prompt}#{i}")).decode(),
                             "revised_prompt": prompt} for i in range(n)]  # fmt: skip
                    self._json(200, {"created": 0, "data": data})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                messages = body.get("messages", [])
                try:
                    out = fake.script.respond(messages, tags, body.get("model", ""))
                except LookupError as exc:
                    self._json(500, {"error": {"message": str(exc)}})
                    return
                if out.delay_s:
                    time.sleep(out.delay_s)
                if isinstance(out, Fault):
                    if out.malformed:
                        self._send(200, b"{not json")
                        return
                    headers = {}
                    if out.retry_after is not None:
                        headers["Retry-After"] = f"{out.retry_after:g}"
                    self._json(out.status, {"error": {"message": out.message, "type": "fault"}},
                               headers)  # fmt: skip
                    return
                assert isinstance(out, Reply)
                prompt = sum(count_tokens(m.get("content") or "") for m in messages)
                completion = count_tokens(out.content)
                resp: dict[str, Any] = {
                    "id": f"chatcmpl-fake-{len(fake.requests)}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", fake.model),
                    "choices": [{"index": 0, "finish_reason": out.finish_reason,
                                 "message": {"role": "assistant", "content": out.content}}],
                }  # fmt: skip
                if out.usage:
                    resp["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                                     "total_tokens": prompt + completion}  # fmt: skip
                self._json(200, resp)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].rstrip("/").endswith("/chat/completions")]

    def image_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].rstrip("/").endswith("/images/generations")]

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
