"""Art phases: picture lines, the images endpoint (fake server), pictures saved and used by the
code, skipping without an endpoint (chatdev.md §2.12; the repo's Art company)."""

from __future__ import annotations

import copy
import logging

import pytest

from thunlp_repro.chatdev.art import (
    ImageMaker,
    ImagesUnavailable,
    incorporated,
    is_png,
    make_image_maker,
    parse_designs,
)
from thunlp_repro.chatdev.company import load_company
from thunlp_repro.chatdev.config import ImagesConfig, LLMConfig
from thunlp_repro.chatdev.fake_server import FakeOpenAIServer, tiny_png
from thunlp_repro.chatdev.pipeline import replay_project, run_project
from thunlp_repro.chatdev.scenarios import DICE, chatdev_script, render_files
from thunlp_repro.shared.errors import ConfigError
from thunlp_repro.shared.llm.scripted import Script, ScriptedLLM
from thunlp_repro.shared.llm.transcript import read_transcript

from .conftest import fast_config
from .test_company import ART_LOOP
from .trio import CHAIN, write_trio

DESIGNS = (
    "Here are the pictures:\n"
    "1. `dice_face.png`: a white die showing six black dots\n"
    "- **background.png** - a green felt table top\n"
    "../evil.png: a picture that must not leave the folder\n"
    "dice_face.png: a second description that is ignored\n"
)
WITH_PICTURES = (
    "'''Roll two dice and show the dice picture.'''\n"
    "import os\n"
    "import random\n\n"
    "HERE = os.path.dirname(os.path.abspath(__file__))\n\n\n"
    "def picture(name):\n"
    "    '''Bytes of a picture that lies next to this file.'''\n"
    "    with open(os.path.join(HERE, name), 'rb') as fh:\n"
    "        return fh.read()\n\n\n"
    'if __name__ == "__main__":\n'
    "    for name in ('dice_face.png', 'background.png'):\n"
    "        assert picture(name).startswith(b'\\x89PNG'), name\n"
    "    dice = [random.Random(0).randint(1, 6) for _ in range(2)]\n"
    '    print("dice:", dice, "total:", sum(dice))\n'
)


def test_parse_designs():
    found = parse_designs(DESIGNS)
    assert found == {"dice_face.png": "a white die showing six black dots",
                     "background.png": "a green felt table top"}  # fmt: skip
    assert list(parse_designs(DESIGNS, max_images=1)) == ["dice_face.png"]
    assert parse_designs("No pictures needed.\nmain.py: the program") == {}


def test_incorporated_counts_names_in_code():
    images = {"a.png": "x", "img/b.png": "y"}
    assert incorporated(images, {"main.py": "load('b.png')"}) == ["img/b.png"]


def test_tiny_png_and_images_config():
    assert is_png(tiny_png("x")) and tiny_png("x") != tiny_png("y")
    with pytest.raises(ConfigError, match="images.size must look like 256x256"):
        ImagesConfig(size="big")
    assert make_image_maker(ImagesConfig(), LLMConfig()) is None  # nothing configured


def test_image_maker_against_the_fake_server():
    with FakeOpenAIServer(Script()) as server:
        maker = ImageMaker(server.url, "k", size="256x256")
        data = maker("a.png", "a red square")
        body = server.image_requests()[0]["body"]
        maker.close()
    assert is_png(data)
    assert body["prompt"] == "a red square" and body["response_format"] == "b64_json"
    assert body["size"] == "256x256" and body["n"] == 1
    with FakeOpenAIServer(Script(), images=False) as server:
        maker = ImageMaker(server.url, "k")
        with pytest.raises(ImagesUnavailable, match="images endpoint .* failed for a.png"):
            maker("a.png", "a red square")
        maker.close()


def art_script() -> Script:
    s = chatdev_script(DICE)
    s.add(DESIGNS, phase="ArtDesign", role="assistant")
    s.add(render_files({"main.py": WITH_PICTURES}, "Pictures integrated:"),
          phase="ArtIntegration", role="assistant")  # fmt: skip
    return s


def art_trio(tmp_path):
    doc = copy.deepcopy(CHAIN)
    doc["chain"].insert(3, copy.deepcopy(ART_LOOP))
    doc["recruitments"].append("Chief Creative Officer")
    return write_trio(tmp_path / "Art", chain_doc=doc)


def test_art_phases_make_save_and_integrate_pictures(tmp_path):
    company = load_company(art_trio(tmp_path))
    with FakeOpenAIServer(Script()) as server:
        cfg = fast_config(f"images.base_url={server.url}", "protocol.until=Art")
        client = ScriptedLLM(art_script(), model="fake-model")
        result = run_project(DICE.task, name="a", cfg=cfg, client=client, company=company,
                             root=tmp_path / "runs")  # fmt: skip
        prompts_sent = [r["body"]["prompt"] for r in server.image_requests()]
    assert result.status == "done", result.reason
    assert prompts_sent == ["a white die showing six black dots", "a green felt table top"]
    code = result.path / "code"
    assert is_png((code / "dice_face.png").read_bytes()) and is_png(
        (code / "background.png").read_bytes())  # fmt: skip
    assert not (tmp_path / "runs" / "chatdev" / "evil.png").exists()
    integration = next(c for c in client.script.calls if c.tags["phase"] == "ArtIntegration")
    assert "dice_face.png: a white die showing six black dots" in integration.last
    assert (code / "main.py").read_text() == WITH_PICTURES
    assert result.meta["incorporated_images"] == ["dice_face.png", "background.png"]
    assert "Proposed_images:\n2" in (result.path / "meta.txt").read_text()
    assert "Incorporated_images:\n2" in (result.path / "meta.txt").read_text()
    # replay uses the saved pictures: no images endpoint, identical tree
    replayed = replay_project(result.path)
    assert replayed.identical, replayed.differences


def test_no_images_endpoint_skips_art_with_one_line(tmp_path, caplog):
    company = load_company(art_trio(tmp_path))
    client = ScriptedLLM(art_script(), model="fake-model")
    with caplog.at_level(logging.WARNING, logger="thunlp_repro.chatdev"):
        result = run_project(DICE.task, name="n", cfg=fast_config("protocol.until=Manual"),
                             client=client, company=company, root=tmp_path)  # fmt: skip
    assert result.status == "done", result.reason
    lines = [r.getMessage() for r in caplog.records if "Art phases skipped" in r.getMessage()]
    assert lines == ["Art phases skipped: no images endpoint is configured (set "
                     "images.base_url or --images-base-url); the run goes on without "
                     "pictures"]  # fmt: skip
    phases = {c.tags["phase"] for c in client.script.calls}
    assert "ArtDesign" not in phases and "ArtIntegration" not in phases and "Manual" in phases
    assert result.meta["art_skipped"].startswith("no images endpoint")
    assert replay_project(result.path).identical


def test_failing_endpoint_skips_integration(tmp_path, caplog):
    company = load_company(art_trio(tmp_path))
    client = ScriptedLLM(art_script(), model="fake-model")
    with FakeOpenAIServer(Script(), images=False) as server:
        cfg = fast_config(f"images.base_url={server.url}", "protocol.until=Manual")
        with caplog.at_level(logging.WARNING, logger="thunlp_repro.chatdev"):
            result = run_project(DICE.task, name="f", cfg=cfg, client=client, company=company,
                                 root=tmp_path)  # fmt: skip
        assert len(server.image_requests()) == 1  # stops at the first failure
    assert result.status == "done", result.reason
    assert len([r for r in caplog.records if "Art phases skipped" in r.getMessage()]) == 1
    phases = [c.tags["phase"] for c in client.script.calls]
    assert "ArtDesign" in phases and "ArtIntegration" not in phases
    events = read_transcript(result.path / "events.jsonl")
    skipped = [e for e in events if e["event"] == "phase_skipped"]
    assert [e["phase"] for e in skipped] == ["ArtIntegration"]
    assert replay_project(result.path).identical
