"""Silence third-party progress bars (transformers, the GGUF dequantiser) during conversions."""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Iterator

# Modules that create their own tqdm bars, not switched off by transformers' progress-bar flag.
_TQDM_MODULES = ("transformers.modeling_gguf_pytorch_utils",)


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """Disable transformers' progress bars and the GGUF dequantiser's tqdm while converting.

    The installer reports its own one-line progress; tqdm bars in `assets install` logs are noise.
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    patched = []
    for name in _TQDM_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        original = getattr(module, "tqdm", None)
        if original is not None:
            module.tqdm = functools.partial(original, disable=True)
            patched.append((module, original))
    try:
        yield
    finally:
        for module, original in patched:
            module.tqdm = original
        if was_enabled:
            hf_logging.enable_progress_bar()
