"""Limits and measurements of a sandboxed program's whole process tree.

Per-process rlimits (CPU, address space, file size) do not bound a tree: a program can fork
until the machine stalls or split 10 GB over 10 processes. So the tree gets:

- a cgroup with `pids.max` and a memory limit when this process may create one (cgroup v2
  with delegated `memory`/`pids` controllers, or cgroup v1 hierarchies, e.g. as root);
- otherwise `RLIMIT_NPROC` (enforced for non-root users) and a watchdog that sums the resident
  memory of every descendant and kills the tree past the limit.

The watchdog always runs: it also measures the tree's CPU use over the last second of the
time limit, which separates a program waiting for input or events (`alive`) from one spinning
in a loop (`hang`), see `sandbox.py`.

Reproduces: ChatDev §3.1 testing under resource limits; chatdev.md §2.11.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _proc_table() -> dict[int, tuple[int, float, int]]:
    """pid -> (ppid, cpu seconds, resident bytes) of every visible process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields[1] = ppid, [11] utime, [12] stime, [21] rss (pages), after the state field
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK,
                                  int(fields[21]) * PAGE)  # fmt: skip
    return table


def descendants(root: int, table: dict[int, tuple[int, float, int]]) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class Cgroup:
    """A throw-away cgroup (v2, or v1 `pids` + `memory`) holding one sandboxed tree."""

    def __init__(self, dirs: list[Path], version: int) -> None:
        self.dirs, self.version = dirs, version

    @classmethod
    def create(cls, max_pids: int, memory_bytes: int) -> Cgroup | None:
        """A new cgroup with the limits set, or None when this process may not make one."""
        name = f"thunlp-sandbox-{uuid.uuid4().hex[:12]}"
        try:
            v2 = CGROUP_ROOT / "cgroup.controllers"
            if v2.is_file() and {"pids", "memory"} <= set(v2.read_text().split()):
                own = Path("/proc/self/cgroup").read_text().strip().split("::", 1)[-1]
                group = CGROUP_ROOT / own.lstrip("/") / name
                group.mkdir()
                (group / "pids.max").write_text(str(max_pids))
                (group / "memory.max").write_text(str(memory_bytes))
                (group / "memory.swap.max").write_text("0")
                return cls([group], 2)
            pids, memory = CGROUP_ROOT / "pids" / name, CGROUP_ROOT / "memory" / name
            pids.mkdir()
            try:
                memory.mkdir()
            except OSError:
                pids.rmdir()
                raise
            (pids / "pids.max").write_text(str(max_pids))
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            return cls([pids, memory], 1)
        except OSError:
            return None

    def join_path(self) -> list[str]:
        """`cgroup.procs` files a child writes its pid into before exec."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def memory_killed(self) -> bool:
        """Whether the kernel OOM-killed a process of this tree."""
        try:
            if self.version == 2:
                events = (self.dirs[0] / "memory.events").read_text()
                return any(line.split()[1] != "0" for line in events.splitlines()
                           if line.split()[0] in ("oom_kill", "max"))  # fmt: skip
            control = (self.dirs[1] / "memory.oom_control").read_text()
            kills = [line.split()[1] for line in control.splitlines()
                     if line.startswith("oom_kill ")]  # fmt: skip
            if kills:
                return kills[0] != "0"
            return int((self.dirs[1] / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError, IndexError):
            return False

    def kill_and_remove(self) -> None:
        """SIGKILL whatever is left in the group, then delete it."""
        for _ in range(50):
            pids = set()
            for d in self.dirs:
                try:
                    pids |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.02)
        for d in self.dirs:
            try:
                d.rmdir()
            except OSError:
                pass


def join_cgroup(procs_files: list[str]) -> None:
    """In the child before exec: move this process (and so its whole future tree) in."""
    for path in procs_files:
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))


@dataclass
class TreeWatch:
    """Samples a tree every `interval_s`: peak processes, peak memory, recent CPU use.

    With `memory_bytes`, kills the tree (SIGKILL to every descendant) when its summed resident
    memory passes the limit and sets `memory_exceeded`.
    """

    root: int
    memory_bytes: int | None = None
    interval_s: float = 0.1
    peak_procs: int = 0
    peak_rss: int = 0
    memory_exceeded: bool = False
    samples: list[tuple[float, float]] = field(default_factory=list)  # (time, tree cpu s)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _dead_cpu: float = 0.0
    _last_cpu: dict[int, float] = field(default_factory=dict)

    def start(self) -> TreeWatch:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def sample(self) -> None:
        table = _proc_table()
        pids = descendants(self.root, table)
        if not pids:
            return
        cpu_now = {pid: table[pid][1] for pid in pids}
        # CPU of processes that exited since the last sample stays counted
        self._dead_cpu += sum(c for pid, c in self._last_cpu.items() if pid not in cpu_now)
        self._last_cpu = cpu_now
        self.samples.append((time.monotonic(), self._dead_cpu + sum(cpu_now.values())))
        rss = sum(table[pid][2] for pid in pids)
        self.peak_procs = max(self.peak_procs, len(pids))
        self.peak_rss = max(self.peak_rss, rss)
        if self.memory_bytes is not None and rss > self.memory_bytes:
            self.memory_exceeded = True
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def recent_cpu_share(self, window_s: float = 1.0) -> float | None:
        """Cores used by the tree over the last `window_s` seconds (None: too few samples)."""
        if len(self.samples) < 2:
            return None
        end_t, end_cpu = self.samples[-1]
        start = next(((t, c) for t, c in reversed(self.samples) if end_t - t >= window_s),
                     self.samples[0])  # fmt: skip
        if end_t - start[0] <= 0:
            return None
        return (end_cpu - start[1]) / (end_t - start[0])
