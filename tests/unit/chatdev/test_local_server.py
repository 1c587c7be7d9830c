"""The local llama.cpp server's process hygiene (no llama-cpp-python needed): a server child
dies with the process that started it, so a killed batch leaves no server behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thunlp_repro.chatdev.local_server import LocalServer

# The "batch": starts a long-running child the way LocalServer.start does, prints its pid, waits.
PARENT = """
import subprocess, sys, time
from thunlp_repro.chatdev.local_server import _die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         start_new_session=True, preexec_fn=_die_with_parent)
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is dead for our purpose
        return fh.read().split(") ")[1][0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_server_child_dies_with_a_killed_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child_pid)


def test_server_command_names_threads_context_and_cache():
    server = LocalServer("x.gguf", port=1234, n_threads=1, n_ctx=4096, ram_cache=False, seed=3)
    cmd = server.command(Path("x.gguf"))
    assert cmd[cmd.index("--n_threads") + 1] == "1" and cmd[cmd.index("--n_ctx") + 1] == "4096"
    assert cmd[cmd.index("--cache") + 1] == "False" and cmd[cmd.index("--seed") + 1] == "3"
    assert "x.gguf" in cmd and server.base_url == "http://127.0.0.1:1234/v1"
