"""The CPU time of one trial's own processes, from a cgroup of the run's own.

    with TrialCgroup(f"{PREFIX}-{run_id}-{seq}", pids=[delay_line_pid]) as cg:
        ...                    # every process started here is inside
    cg.usage_s                 # CPU seconds the cgroup used

The orchestrator moves itself in for the trial, so every process it starts
(workers, tools, helpers) is born inside; long-lived helpers (the delay line)
are moved in and back.  cgroup v2 (`cpu.stat` usage_usec) where the CPU
controllers are on v2, v1 `cpuacct` (`cpuacct.usage`, ns) where they are on
v1, as on hosts with a hybrid layout.  The cgroup is always removed.
"""
from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)
PREFIX = "mpb"      # harness.host.netns.PREFIX (not imported: it needs the C engine)
ROOT = Path("/sys/fs/cgroup")
V1 = ROOT / "cpuacct"


def hierarchy(root: Path = ROOT) -> tuple[str, Path] | None:
    """("v1", cpuacct mount) or ("v2", unified mount), or None when neither
    offers per-cgroup CPU time.  A v2 tree without the cpu controller next
    to a v1 cpuacct (hybrid) is not where CPU is accounted."""
    if (root / "cgroup.controllers").exists():
        return "v2", root
    if (root / "cpuacct" / "cpuacct.usage").exists():
        return "v1", root / "cpuacct"
    return None


def read_usage_s(kind: str, path: Path) -> float:
    if kind == "v1":
        return int((path / "cpuacct.usage").read_text()) / 1e9
    return parse_cpu_stat((path / "cpu.stat").read_text())["usage_usec"] / 1e6


def machine_usage_s(found: tuple[str, Path] | None) -> float | None:
    """Every task's CPU time on the machine, exact: the v1 root cpuacct's
    usage (the scheduler's runtime of every task, kernel threads and the
    softirq run in their context included).  None on v2, whose root
    cpu.stat is summed from /proc/stat's ticks, and without accounting."""
    if not found or found[0] != "v1":
        return None
    try:
        return read_usage_s("v1", found[1])
    except (OSError, ValueError):
        return None


def parse_cpu_stat(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in text.splitlines() if line.strip())}


def own_cgroup(kind: str, pid: int | str = "self") -> str:
    """The path, relative to the hierarchy's root, of the cgroup `pid` is in."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (kind == "v2" and controllers == "") or (kind == "v1" and "cpuacct" in controllers.split(",")):
            return path
    return "/"


def _move(path: Path, pid: int) -> bool:
    try:
        (path / "cgroup.procs").write_text(str(pid))
        return True
    except ProcessLookupError:     # ended meanwhile
        return False
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        raise


class TrialCgroup:
    """A cgroup for one trial; see the module docstring.  `usage_s` is None
    when the machine has no per-cgroup CPU accounting."""

    def __init__(self, name: str, pids=(), root: Path = ROOT):
        self.name, self.pids = name, [p for p in pids if p]
        self.found = hierarchy(root)
        self.usage_s: float | None = None
        self.path: Path | None = None
        self._home: dict[int, Path] = {}

    def __enter__(self) -> "TrialCgroup":
        if self.found is None:
            return self
        kind, mount = self.found
        try:
            # exist_ok: a resumed run reuses the one its killed attempt left
            (mount / self.name).mkdir(exist_ok=True)
        except OSError as exc:     # a read-only or delegated tree (a VM, a container)
            log.info("no trial cgroup under %s: %s", mount, exc.strerror)
            return self
        self.path = mount / self.name
        try:
            for pid in [os.getpid(), *self.pids]:
                self._home[pid] = mount / own_cgroup(kind, pid).lstrip("/")
                _move(self.path, pid)
            self._start = read_usage_s(kind, self.path)
        except OSError as exc:     # not allowed to move here: measure nothing, never fail
            log.info("no trial cgroup %s: %s", self.path, exc.strerror)
            self._leave()
            self.path = None
        except BaseException:
            self._leave()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            try:
                self.usage_s = read_usage_s(self.found[0], self.path) - self._start
            finally:
                self._leave()

    def members(self) -> list[int]:
        if self.path is None:
            return []
        return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]

    def _leave(self) -> None:
        """Everyone back where they came from (what else is left: to ours),
        then the cgroup goes; a process still exiting can hold it briefly.
        One that cannot go is logged: `bench clean` removes it later."""
        mine = self._home.get(os.getpid(), self.path.parent)
        for pid, home in self._home.items():
            _move(home, pid)
        for _ in range(50):
            for pid in self.members():
                _move(mine, pid)
            try:
                self.path.rmdir()
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    break
                time.sleep(0.02)
        log.warning("cannot remove the trial cgroup %s; `python -m bench clean` will", self.path)


def leftovers(root: Path = ROOT) -> list[Path]:
    """The project's cgroups (left by a killed run)."""
    found = hierarchy(root)
    if found is None:
        return []
    return sorted(p for p in found[1].glob(f"{PREFIX}-*") if p.is_dir())


def remove(paths: list[Path]) -> list[str]:
    """Remove cgroups a dead run left: their processes go to the root."""
    removed = []
    for path in paths:
        for pid in (path / "cgroup.procs").read_text().split():
            _move(path.parent, int(pid))
        try:
            path.rmdir()
            removed.append(path.name)
        except OSError:
            continue
    return removed
