"""Art phases: picture descriptions from the designer, images from an images endpoint, and the
programmer's integration of the pictures into the GUI.

The repo's `Art` company adds the loop `Art` (1 cycle) = `ArtDesign` -> `ArtIntegration`
after Coding [repo]. ArtDesign's reply lists pictures as `FILE.png: DESCRIPTION` lines; each
description is sent to an image model and the picture is saved next to the code; ArtIntegration
gets the list (`{images}`) and changes the GUI code to load the files.

Ours:

- `parse_designs` reads the `FILE.png: DESCRIPTION` lines (bullets, numbering, back-ticks and
  bold are tolerated; names go through the code tree's safe-path rules; at most `max_images`).
- `ImageMaker` calls any OpenAI-compatible images endpoint through the `openai` package
  (`client.images.generate(..., response_format="b64_json")`; a `url` answer is fetched) and
  checks the bytes are a PNG. Failures raise `ImagesUnavailable`; the chain then skips the rest
  of the Art phases with one logged line and goes on.
- `RecordedImages` serves the pictures of a recorded project (replay: no endpoint).
- `make_image_maker` returns None when no endpoint is configured (`images.base_url` null): the
  chain then skips the Art phases with one logged line.
- `incorporated` = the pictures whose file name the final code mentions (meta.txt's
  `Incorporated_images`).

Reproduces: chatdev.md §2.12 (Art phases), §2.15 (`meta.txt` image counts); the repo's Art
company (ChatDev §3.1 chain extended with a design phase).
"""

from __future__ import annotations

import base64
import logging
import os
import re
from pathlib import Path
from typing import Any

from thunlp_repro.chatdev.codebook import UnsafePath, check_path
from thunlp_repro.shared.errors import ReproError

logger = logging.getLogger(__name__)

OFFICIAL_URL = "https://api.openai.com/v1"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_DESIGN_LINE = re.compile(
    r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?[`*_\"']*(?P<name>[A-Za-z0-9_\-./]+\.png)[`*_\"']*\s*[:\-\u2013\u2014]\s*"
    r"(?P<desc>.+?)\s*$",
    re.IGNORECASE,
)


class ImagesUnavailable(ReproError):
    """The images endpoint failed or answered with something that is not a PNG."""


def parse_designs(text: str, max_images: int = 8, root: Path | None = None) -> dict[str, str]:
    """`{file name: description}` from the designer's `FILE.png: DESCRIPTION` lines.

    Unsafe names (absolute, `..`, reserved) are skipped with a warning; the first description
    of a name wins; at most `max_images` pictures.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = _DESIGN_LINE.match(line)
        if not match:
            continue
        desc = match.group("desc").strip().strip("`*_\"'").strip()
        if not desc:
            continue
        try:
            name = check_path(match.group("name"), list(out), root=root)
        except UnsafePath as exc:
            logger.warning("ArtDesign: picture name refused (%s)", exc)
            continue
        if name in out:
            continue
        if len(out) >= max_images:
            logger.warning("ArtDesign: more than %d pictures proposed; the rest are ignored",
                           max_images)  # fmt: skip
            break
        out[name] = desc
    return out


def images_text(images: dict[str, str]) -> str:
    """`{images}`: one `FILE.png: DESCRIPTION` line per picture."""
    return "\n".join(f"{name}: {desc}" for name, desc in images.items())


def incorporated(images: dict[str, str], files: dict[str, str]) -> list[str]:
    """The pictures whose file name (or base name) appears in any code file."""
    used = []
    for name in images:
        base = name.rsplit("/", 1)[-1]
        if any(name in text or base in text for text in files.values()):
            used.append(name)
    return used


def is_png(data: bytes) -> bool:
    return data.startswith(PNG_SIGNATURE)


class ImageMaker:
    """Pictures from an OpenAI-compatible images endpoint.

    Args:
        base_url: Server URL ending in `/v1`.
        api_key: The key (a local server accepts any value).
        model: Image model name.
        size: `WIDTHxHEIGHT`.
        timeout_s: Per request.
    """

    def __init__(self, base_url: str, api_key: str, model: str = "dall-e-2",
                 size: str = "256x256", timeout_s: float = 120.0) -> None:  # fmt: skip
        from openai import OpenAI

        self.base_url = base_url
        self.model = model
        self.size = size
        self.timeout_s = timeout_s
        self.client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=2)

    def __call__(self, name: str, description: str) -> bytes:
        import openai

        try:
            done = self.client.images.generate(
                model=self.model, prompt=description, n=1, size=self.size,
                response_format="b64_json",
            )  # fmt: skip
        except openai.APIError as exc:
            raise ImagesUnavailable(
                f"the images endpoint {self.base_url} failed for {name}: "
                f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"
            ) from None
        item = done.data[0] if done.data else None
        if item is not None and item.b64_json:
            try:
                data = base64.b64decode(item.b64_json, validate=True)
            except ValueError:
                raise ImagesUnavailable(f"{name}: the endpoint sent invalid base64") from None
        elif item is not None and item.url:
            data = self._fetch(item.url, name)
        else:
            raise ImagesUnavailable(f"{name}: the images endpoint returned no picture")
        if not is_png(data):
            raise ImagesUnavailable(f"{name}: the images endpoint did not return a PNG")
        return data

    def _fetch(self, url: str, name: str) -> bytes:
        import urllib.request

        if not url.startswith(("http://", "https://")):
            raise ImagesUnavailable(f"{name}: picture URL {url[:80]!r} is not http(s)")
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:  # noqa: S310
                return resp.read(20 * 1024 * 1024)
        except OSError as exc:
            raise ImagesUnavailable(f"{name}: downloading the picture failed ({exc})") from None

    def close(self) -> None:
        self.client.close()


class RecordedImages:
    """The pictures saved in a recorded project's `code/` folder, by name (replay).

    Args:
        code_dir: The recorded `code/` folder.
        failure: The recorded endpoint failure (raised again for a picture that was never
            saved); None = a missing picture means the replay diverged.
    """

    def __init__(self, code_dir: Path, failure: str | None = None) -> None:
        self.code_dir = Path(code_dir)
        self.failure = failure

    def __call__(self, name: str, description: str) -> bytes:
        path = self.code_dir / name
        if not path.is_file():
            if self.failure:
                raise ImagesUnavailable(self.failure)
            raise ReproError(f"replay diverged: picture {name} was not recorded")
        return path.read_bytes()


def make_image_maker(images_cfg: Any, llm_cfg: Any, llm_base_url: str | None = None) -> Any:
    """The image source for a run, or None when no images endpoint is configured.

    `images.base_url` null -> None; `llm` -> the LLM's server (`llm_base_url`, a local server's
    URL, or `llm.base_url` / `$OPENAI_BASE_URL`, else the official API) with the LLM's key variable.
    """
    from thunlp_repro.shared.llm.openai_client import resolve_base_url

    url = images_cfg.base_url
    key_env = images_cfg.api_key_env
    if url is None:
        return None
    if url == "llm":
        url = llm_base_url or resolve_base_url(llm_cfg.base_url) or OFFICIAL_URL
        key_env = llm_cfg.api_key_env
    key = os.environ.get(key_env) or "local"
    return ImageMaker(url, key, model=images_cfg.model, size=images_cfg.size,
                      timeout_s=images_cfg.timeout_s)  # fmt: skip
