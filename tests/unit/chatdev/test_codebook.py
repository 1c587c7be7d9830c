"""Code extraction, safe paths, requirements, placeholders (chatdev.md §2.10, §5.1.5)."""

from __future__ import annotations

import os

import pytest

from thunlp_repro.chatdev.codebook import (
    Codebook,
    UnsafePath,
    check_path,
    clean_requirements,
    extract,
    is_unimplemented,
    normalise_language,
    placeholder_functions,
    scan_blocks,
)


def test_subfolders_blank_lines_and_case_kept():
    reply = (
        "Here it is.\n\nsrc/App.py\n```python\nclass App:\n\n\n    x = 1\n```\n\n"
        "Main.java\n```java\nclass Main {}\n```"
    )
    got = extract(reply)
    assert got.files == {
        "src/App.py": "class App:\n\n\n    x = 1\n",
        "Main.java": "class Main {}\n",
    }


def test_backticks_inside_code_do_not_end_a_block():
    reply = 'main.py\n```python\ns = "``` not a fence"\nt = """\n```text\n"""\nprint(s)\n```\n'
    # the ```text line *is* a fence line; only a bare closing fence ends the block
    got = extract(reply)
    assert "print(s)" in got.files["main.py"]
    assert 's = "``` not a fence"' in got.files["main.py"]


def test_longer_fence_needs_matching_close():
    reply = "main.py\n````python\nprint('```')\n```\nprint(2)\n````\n"
    assert extract(reply).files["main.py"] == "print('```')\n```\nprint(2)\n"


@pytest.mark.parametrize(
    "name",
    ["../x.py", "a/../../x.py", "/etc/x.py", "C:/x.py", "con.py", "lib/NUL.txt", ".git/config",
     "a//b.py", "a\\b.py", "x\x00.py"],
)  # fmt: skip
def test_unsafe_paths_rejected(name):
    with pytest.raises(UnsafePath):
        check_path(name)


def test_escape_blocks_refused_and_reported():
    reply = "main.py\n```python\nprint(1)\n```\n\n../escape.py\n```python\nx=1\n```\n" \
            "/etc/evil.py\n```python\nx=2\n```\n"  # fmt: skip
    got = extract(reply)
    assert list(got.files) == ["main.py"]
    assert got.rejected == ["../escape.py", "/etc/evil.py"]
    assert any("'..'" in note for note in got.notes)


def test_symlink_escape_refused(tmp_path):
    root = tmp_path / "code"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(UnsafePath, match="outside"):
        check_path("link/x.py", root=root)


def test_case_clash_rejected():
    with pytest.raises(UnsafePath, match="case"):
        check_path("Main.py", existing=["main.py"])


def test_filename_sources():
    reply = (
        "```python main.py\nprint(1)\n```\n"
        "```python:pkg/util.py\nx = 1\n```\n"
        "**File: `gui.py`**\n```python\ny = 2\n```\n"
        "Now the helper module helper.py:\n\n```python\nz = 3\n```\n"
    )
    assert sorted(extract(reply).files) == ["gui.py", "helper.py", "main.py", "pkg/util.py"]


def test_prose_is_not_a_filename_and_template_echo_skipped():
    reply = (
        "FILENAME\n```LANGUAGE\n'''\nDOCSTRING\n'''\nCODE\n```\n"
        "Use tkinter.Tk, e.g. like this:\n```python\nimport tkinter\n```\n"
    )
    got = extract(reply)
    assert got.files == {"main.py": "import tkinter\n"}  # lone unnamed block -> entry file


def test_lone_unnamed_block_with_entry_present_uses_class_name():
    reply = "```python\nclass Board:\n    pass\n```"
    assert list(extract(reply, has_entry=True).files) == ["board.py"]


def test_unterminated_block_is_skipped():
    blocks, warnings = scan_blocks("main.py\n```python\nprint(1)\n")
    assert blocks == [] and "unterminated" in warnings[0]


def test_requirements_and_manual_routed():
    reply = (
        "requirements.txt\n```\nnumpy>=1.0\ntkinter\nnot a req!!\n```\nmanual.md\n```md\n# M\n```"
    )
    got = extract(reply)
    assert got.files == {} and got.manual == "# M\n"
    keep, dropped = clean_requirements(got.requirements)
    assert keep == ["numpy>=1.0"] and len(dropped) == 2


def test_crlf_and_final_newline_normalised():
    assert extract("main.py\r\n```python\r\nprint(1)\r\n```\r\n").files["main.py"] == "print(1)\n"


def test_repo_parser_quirks():
    reply = (
        "The file Main.py below.\n```python\nimport x\n\nprint(1)\n```\n"
        "template\n```python\nCODE\n```\n"
        "game.py\n```python\nif __name__ == '__main__':\n    run()\n```\n"
    )
    got = extract(reply, parser="repo")
    assert sorted(got.files) == ["main.py"]  # lower-cased; __main__ body renamed to main.py
    assert "\n\n" not in got.files["main.py"]  # blank lines deleted
    assert "CODE" not in "".join(got.files.values())  # template body skipped
    assert extract("Requirements:\n```\npygame\n```\n", parser="repo").requirements == "pygame\n"


def test_placeholders_strict_and_compat():
    src = (
        "import abc\n"
        "class P(abc.ABC):\n    @abc.abstractmethod\n    def f(self):\n        pass\n"
        "def todo():\n    '''doc'''\n    ...\n"
        "def ok():\n    try:\n        return 1\n    except Exception:\n        pass\n"
        "def nie():\n    raise NotImplementedError()\n"
    )
    assert placeholder_functions(src) == ["todo", "nie"]
    assert is_unimplemented("a.py", "def f():\n    pass\n", "compat")
    assert not is_unimplemented("a.py", "x = 1\n", "strict")
    assert is_unimplemented("a.py", "def f(:\n", "strict")


def test_codebook_update_versions_and_serialise(tmp_path):
    book = Codebook()
    assert book.update({"util.py": "x = 1\n", "main.py": "import util\n"})
    assert book.version == 1 and not book.update({"main.py": "import util\n"})
    assert book.version == 1
    assert book.serialise().startswith("main.py\n```python\nimport util\n```")
    book.write(tmp_path)
    assert (tmp_path / "util.py").read_text() == "x = 1\n"


def test_language_normalisation():
    assert normalise_language("Python3") == "python"
    assert normalise_language("Node.js") == "javascript"
    assert normalise_language("C++") == "cpp"
    assert normalise_language("Elm") == "elm"
