"""`chatdev view RUN`: the page's data, its self-containment and escaping, the CLI, and the page
rendered by headless Chromium (`--dump-dom` after the JavaScript ran, and a screenshot)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.unit.chatdev.test_warehouse import make_run
from thunlp_repro.chatdev.viewer import load_run, render_html, write_view
from thunlp_repro.cli import chatdev as chatdev_cli

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if p), None)  # fmt: skip
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (make browser, or apt-get install chromium)"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", "test-key")
    mp.delenv("OPENAI_BASE_URL", raising=False)
    try:
        result = make_run(tmp_path_factory.mktemp("view"), None)  # no WareHouse needed here
    finally:
        mp.undo()
    assert result.status == "done", result.reason
    return result


def _expected(path: Path) -> list[tuple[str, str | None]]:
    """(step name, verdict) from events.jsonl: each phase chat and each sandbox run."""
    out = []
    for line in (path / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["event"] == "phase_start":
            out.append((e["phase"], None))
        elif e["event"] == "sandbox":
            out.append(("Test run", e["verdict"]))
    return out


def test_data_follows_the_run(project):
    data = load_run(project.path)
    steps = data["steps"]
    assert [(s["phase"], s.get("verdict")) for s in steps] == _expected(project.path)
    assert [s["verdict"] for s in steps if s["kind"] == "test"] == project.meta["verdicts"]
    assert sum(s["tokens"]["total"] for s in steps) == project.meta["tokens"]["total_tokens"]
    assert sum(s["calls"] for s in steps) == project.meta["llm_calls"]
    changed = [s["phase"] for s in steps if s["kind"] == "chat" and s["diffs"]]
    assert changed[0] == "Coding" and "TestModification" in changed
    demand = steps[0]
    assert demand["phase"] == "DemandAnalysis" and any(m["reflection"] for m in demand["messages"])
    assert all(s["seconds"] is not None for s in steps)
    fix = next(s for s in steps if s["phase"] == "TestModification")
    assert [m["cdh_step"] for m in fix["messages"]] == ["ask", "answer", "solve"]


def test_page_is_self_contained_and_escaped(project):
    data = load_run(project.path)
    data["task"] = "</script><script>alert(1)</script> & <b>bold</b>"
    html = render_html(data)
    assert html.count("</script>") == 2  # the data block and the program: nothing injected
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "<script src" not in html
    payload = re.search(r'id="run-data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(payload)["task"] == data["task"]


def test_cli_out_overwrite_and_not_a_run(project, tmp_path):
    runner = CliRunner()
    out = tmp_path / "page.html"
    done = runner.invoke(chatdev_cli.app, ["view", str(project.path), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == str(out) and out.read_text().startswith("<!DOCTYPE html>")
    again = runner.invoke(chatdev_cli.app, ["view", str(project.path), "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    forced = runner.invoke(chatdev_cli.app, ["view", str(project.path), "-o", str(out),
                                             "--overwrite"])  # fmt: skip
    assert forced.exit_code == 0, forced.output
    bad = runner.invoke(chatdev_cli.app, ["view", str(tmp_path)])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "is not a ChatDev run folder" in bad.stderr
    assert write_view(project.path).name == "view.html"  # default: RUN/view.html


class _Steps(HTMLParser):
    """Collects the rendered step items and the body's data-rendered attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, str | None]] = []
        self.rendered: str | None = None
        self.status = ""
        self._in_status = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.rendered = a.get("data-rendered")
        if tag == "li" and "step" in (a.get("class") or "").split():
            self.steps.append({"phase": a.get("data-phase"), "verdict": a.get("data-verdict")})
        self._in_status = a.get("id") == "render-status"

    def handle_data(self, data):
        if self._in_status:
            self.status += data


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={cwd / 'profile'}", "--hide-scrollbars", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


@needs_chromium
def test_headless_chromium_renders_the_chain(project, tmp_path):
    page = write_view(project.path, tmp_path / "view.html")
    dom = _chromium("--dump-dom", page.as_uri(), cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Steps()
    parsed.feed(dom.stdout)
    expected = _expected(project.path)
    assert parsed.rendered == str(len(expected))  # set by the page's script after rendering
    assert parsed.status.strip() == f"Rendered {len(expected)} steps."
    assert [(s["phase"], s["verdict"]) for s in parsed.steps] == expected
    assert "Chief Product Officer \u2190 Chief Executive Officer" in dom.stdout
    assert 'class="diff"' not in dom.stdout  # step 1 (DemandAnalysis) is shown: no code yet


@needs_chromium
def test_headless_chromium_screenshot(project, tmp_path):
    from PIL import Image

    page = write_view(project.path, tmp_path / "view.html")
    shot = tmp_path / "shot.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1280,900", page.as_uri(), cwd=tmp_path)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # not a blank page

    def near(rgb, want, tol=12):
        return all(abs(a - b) <= tol for a, b in zip(rgb, want, strict=True))

    assert near(image.getpixel((5, 5)), (0x2B, 0x4C, 0x7E))  # the header band
    # the token chart is drawn by the script on a canvas: orange bars = phases that changed code
    orange = sum(n for n, rgb in colours if near(rgb, (0xE0, 0x7B, 0x24)))
    assert orange > 200
