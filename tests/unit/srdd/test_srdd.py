"""SRDD loading: path precedence, validation, fingerprint, stratified selection.

Every row here is invented for the tests; no SRDD text is copied (offline-assets.md §6).
"""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from thunlp_repro.shared import srdd
from thunlp_repro.shared.srdd import (
    SrddError,
    load_srdd,
    parse_srdd,
    resolve_srdd_path,
    select,
    srdd_info,
    task_id,
)

ROWS = [
    ("Tally_Pad", "A desktop counter that adds one each time the user presses a button.", "Tools"),
    ("Pocket_Clock", "A window that shows the current time and a stopwatch.", "Tools"),
    ("Note_Jar", "Type short notes, save them to a text file and list them again.", "Tools"),
    ("Dot_Chase", "A small game where the player moves a dot to catch falling stars.", "Arcade"),
    ("Brick_Tap", "Break a wall of bricks by bouncing a ball off a paddle.", "Arcade"),
    ("Word_Ladder", "Change one letter at a time to turn one word into another.", "Puzzle"),
    ("Grid_Fill", "Fill a 4x4 grid so each row and column holds each digit once.", "Puzzle"),
    ("Grid_Fill", "A colouring puzzle: paint cells so no two neighbours match.", "Puzzle"),
]


def write_csv(path, rows=ROWS, header=("Name", "Description", "Category")):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def no_defaults(monkeypatch, tmp_path):
    """No SRDD_PATH, a cwd and repo root without ../shared/data/srdd/srdd.csv."""
    monkeypatch.delenv("SRDD_PATH", raising=False)
    work = tmp_path / "isolated" / "repo"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setattr(srdd, "_REPO_ROOT", work)
    return work


def test_parse_gives_ids_in_the_spec_format(tmp_path):
    tasks = load_srdd(write_csv(tmp_path / "s.csv"))
    assert len(tasks) == 8 and tasks[0].row == 0 and tasks[-1].row == 7
    t = tasks[0]
    digest = hashlib.sha1(t.description.encode()).hexdigest()[:8]
    assert t.task_id == f"Tools__Tally_Pad__{digest}" == task_id(t.name, t.description, t.category)
    assert len({x.task_id for x in tasks}) == 8  # same (category, name), different descriptions


def test_ids_are_folder_safe_and_exact_duplicates_get_a_suffix():
    assert task_id("My App!", "d", "Fun / Games").startswith("Fun-Games__My-App__")
    text = "Name,Description,Category\nA,same,C\nA,same,C\n"
    assert [t.task_id[-2:] for t in parse_srdd(text)] == [task_id("A", "same", "C")[-2:], "-2"]


def test_bom_extra_columns_and_whitespace_are_tolerated():
    text = '\ufeffName, Description ,Category,Extra\n Foo ,"Two\n lines",Cat,x\n'
    (t,) = parse_srdd(text)
    assert (t.name, t.description, t.category) == ("Foo", "Two lines", "Cat")


def test_missing_columns_are_named(tmp_path):
    path = write_csv(tmp_path / "bad.csv", [("a", "b")], header=("Title", "Description"))
    with pytest.raises(
        SrddError, match=r"lacks column\(s\) Name, Category.*found Title,Description"
    ):
        load_srdd(path)


def test_empty_fields_are_an_error():
    with pytest.raises(SrddError, match="row 3"):
        parse_srdd("Name,Description,Category\nA,b,C\nB,,C\n")


def test_info_has_hash_rows_and_categories(tmp_path):
    path = write_csv(tmp_path / "s.csv")
    info = srdd_info(path)
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["rows"] == 8 and info["path"] == str(path)
    assert info["categories"] == {"Arcade": 2, "Puzzle": 3, "Tools": 3}


def test_precedence_explicit_then_env_then_default(no_defaults, tmp_path, monkeypatch):
    explicit = write_csv(tmp_path / "explicit.csv", ROWS[:1])
    env = write_csv(tmp_path / "env.csv", ROWS[:2])
    default = write_csv(no_defaults.parent / "shared" / "data" / "srdd" / "srdd.csv", ROWS[:3])
    monkeypatch.setenv("SRDD_PATH", str(env))
    assert resolve_srdd_path(explicit) == explicit
    assert resolve_srdd_path() == env
    assert len(load_srdd()) == 2
    monkeypatch.delenv("SRDD_PATH")
    assert resolve_srdd_path() == default.resolve()
    assert len(load_srdd()) == 3


def test_default_is_also_found_from_the_repo_root(no_defaults, tmp_path, monkeypatch):
    repo = tmp_path / "checkout" / "main"
    repo.mkdir(parents=True)
    want = write_csv(tmp_path / "checkout" / "shared" / "data" / "srdd" / "srdd.csv")
    monkeypatch.setattr(srdd, "_REPO_ROOT", repo)
    assert resolve_srdd_path() == want.resolve()


def test_nothing_found_explains_the_three_options(no_defaults):
    with pytest.raises(SrddError) as err:
        resolve_srdd_path()
    msg = str(err.value)
    assert "--srdd PATH" in msg and "SRDD_PATH" in msg and "../shared/data/srdd/srdd.csv" in msg


def test_a_missing_explicit_or_env_path_is_an_error(no_defaults, tmp_path, monkeypatch):
    with pytest.raises(SrddError, match="--srdd does not exist"):
        resolve_srdd_path(tmp_path / "nope.csv")
    monkeypatch.setenv("SRDD_PATH", str(tmp_path / "gone.csv"))
    with pytest.raises(SrddError, match="SRDD_PATH does not exist"):
        resolve_srdd_path()


def test_urls_are_downloaded_once_only_when_given(no_defaults, tmp_path, monkeypatch):
    monkeypatch.setenv("THUNLP_REPRO_HOME", str(tmp_path / "home"))
    url = "https://example.invalid/srdd.csv"
    assert resolve_srdd_path(url) == url
    payload = write_csv(tmp_path / "remote.csv").read_bytes()
    calls = []

    class Resp(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(u, timeout):  # no network in tests
        calls.append(u)
        return Resp(payload)

    monkeypatch.setattr(srdd.urllib.request, "urlopen", fake_urlopen)
    assert len(load_srdd(url)) == 8
    monkeypatch.setenv("SRDD_PATH", url)
    assert srdd_info()["rows"] == 8
    assert calls == [url]  # cached under home()/srdd


def test_select_per_category_is_stratified_and_deterministic(tmp_path):
    tasks = load_srdd(write_csv(tmp_path / "s.csv"))
    one = select(tasks, per_category=1, seed=0)
    assert sorted(t.category for t in one) == ["Arcade", "Puzzle", "Tools"]
    assert select(tasks, per_category=1, seed=0) == one
    assert [t.row for t in one] == sorted(t.row for t in one)  # file order kept
    seeds = {tuple(t.task_id for t in select(tasks, per_category=1, seed=s)) for s in range(8)}
    assert len(seeds) > 1
    two = select(tasks, per_category=2, seed=0)
    assert {c: sum(t.category == c for t in two) for c in ("Arcade", "Puzzle", "Tools")} == {
        "Arcade": 2,
        "Puzzle": 2,
        "Tools": 2,
    }
    assert set(one) <= set(two)


def test_select_limit_round_robins_over_categories(tmp_path):
    tasks = load_srdd(write_csv(tmp_path / "s.csv"))
    three = select(tasks, limit=3, seed=4)
    assert len({t.category for t in three}) == 3
    assert len(select(tasks, limit=5)) == 5
    assert select(tasks) == tasks
    assert select(tasks, limit=0) == []


def test_select_filters_by_category_and_id(tmp_path):
    tasks = load_srdd(write_csv(tmp_path / "s.csv"))
    assert {t.category for t in select(tasks, categories=["Puzzle"])} == {"Puzzle"}
    picked = select(tasks, ids=[tasks[0].task_id, "Brick_Tap"])
    assert [t.name for t in picked] == ["Tally_Pad", "Brick_Tap"]
    with pytest.raises(SrddError, match="unknown SRDD categories: Nope"):
        select(tasks, categories=["Nope"])
    with pytest.raises(SrddError, match="unknown SRDD task ids"):
        select(tasks, ids=["nothing"])
    with pytest.raises(SrddError, match=">= 0"):
        select(tasks, limit=-1)


def test_no_heavy_imports():
    import subprocess
    import sys

    code = (
        "import sys; import thunlp_repro.shared.srdd; "
        "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
