"""The local default backend: llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

`LocalServer("qwen-coder-1.5b")` resolves the offline GGUF through the asset registry, starts
`python -m llama_cpp.server` with 2 threads, a 16k context, the GGUF's own chat template and the
prompt cache on (llama.cpp reuses the KV cache of the longest shared prefix; `--cache` adds a RAM
cache across agents), waits until `/v1/models` answers and exposes `base_url`. Stopping kills
the server's process group; on Linux the server also gets SIGTERM when the process that started
it dies, so a killed batch leaves no server behind. llama-cpp-python is the optional `local-llm`
extra.

Reproduces: chatdev.md §2.13 ("Local default backend"), §4.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from thunlp_repro.shared.errors import ReproError, UsageError

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'thunlp-repro[local-llm]'"
LOCAL_MODELS = ("qwen-coder-1.5b", "smollm2-135m")


def llama_cpp_available() -> bool:
    """Whether llama-cpp-python with its server extra is importable."""
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "uvicorn", "fastapi"))


def require_llama_cpp() -> None:
    """Raise a one-line error naming the install command when llama-cpp-python is missing."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise UsageError(f"llama-cpp-python is not installed; run: {INSTALL_HINT}")
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("fastapi") is None:
        raise UsageError(f"llama-cpp-python's server extra is not installed; run: {INSTALL_HINT}")


def resolve_gguf(model: str) -> Path:
    """A GGUF path: an existing file as given, else the offline asset `model`."""
    if Path(model).is_file():
        return Path(model)
    try:
        from thunlp_repro.shared.assets import gguf_path
    except ImportError as exc:
        raise UsageError(f"the offline asset registry is unavailable ({exc})") from None
    return Path(gguf_path(model))


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the process group kill in stop() remains
        pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalServer:
    """A llama.cpp OpenAI-compatible server child process.

    Args:
        model: Asset id (`qwen-coder-1.5b`, `smollm2-135m`) or a GGUF path.
        host: Bind address (loopback only by default).
        port: Port; None picks a free one.
        n_ctx: Context window.
        n_threads: CPU threads.
        seed: Sampling seed of the server.
        start_timeout_s: How long to wait for `/v1/models`.
        log_path: Where the server's output goes (default: discarded).
        ram_cache: llama-cpp-python's RAM cache of prompt states across requests (`--cache`);
            the in-context prefix reuse works without it. A 25-call project once grew the
            server to 23 GB with it on (OOM-killed, llama-cpp-python 0.3.x).
    """

    def __init__(
        self,
        model: str = "qwen-coder-1.5b",
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 16384,
        n_threads: int = 2,
        seed: int | None = None,
        start_timeout_s: float = 300.0,
        log_path: str | Path | None = None,
        ram_cache: bool = True,
    ) -> None:
        self.model = model
        self.alias = Path(model).stem if Path(model).suffix == ".gguf" else model
        self.host = host
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self.start_timeout_s = start_timeout_s
        self.log_path = Path(log_path) if log_path else None
        self.ram_cache = ram_cache
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def command(self, gguf: Path) -> list[str]:
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf), "--model_alias", self.alias,
            "--host", self.host, "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
            "--cache", str(self.ram_cache),
        ]  # fmt: skip
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        return cmd

    def start(self) -> LocalServer:
        """Start the server and wait until it answers.

        Raises:
            UsageError: llama-cpp-python or the GGUF asset is missing.
            ReproError: the server exited or did not answer in time.
        """
        require_llama_cpp()
        gguf = resolve_gguf(self.model)
        self.port = self.port or free_port(self.host)
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        logger.info("starting llama.cpp server for %s on %s", self.alias, self.base_url)
        self.proc = subprocess.Popen(
            self.command(gguf), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=os.name == "posix",
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )  # fmt: skip
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ReproError(
                    f"llama.cpp server exited with code {self.proc.returncode}"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            if self.ready():
                return self
            time.sleep(0.5)
        self.stop()
        raise ReproError(f"llama.cpp server did not answer within {self.start_timeout_s:g} s")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                json.loads(resp.read())
                return True
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            if os.name == "posix":
                os.killpg(self.proc.pid, signal.SIGTERM)
            else:  # pragma: no cover
                self.proc.terminate()
            self.proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            if os.name == "posix":
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
