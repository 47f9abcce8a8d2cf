"""Who owns which namespaces: every run (and every capability probe)
registers its PID under RUNS_DIR, so `bench clean` removes only what a dead
owner left and never touches a run that is still going.

And one benchmark run at a time per machine: two runs would share the CPUs
(2 here, each run pinning its sender and receiver to them) and disturb each
other's numbers, so the second is refused with a sentence naming the first.
The lock is an flock(), which the kernel releases when its holder dies,
even by SIGKILL: a killed run never leaves a stale lock.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from contextlib import contextmanager

from harness.errors import HarnessError

RUNS_DIR = "/run/mptcp-bench"
# Tests give each test session its own lock file, so that test sessions on a
# shared development machine do not refuse each other's runs.
LOCK_ENV = "MPTCP_BENCH_LOCK"


class Busy(HarnessError):
    """Another benchmark run holds the machine."""


def lock_path() -> str:
    return os.environ.get(LOCK_ENV) or os.path.join(RUNS_DIR, "run.lock")


@contextmanager
def exclusive_run(run_id: str, **info):
    """Hold the machine's run lock for the block, or raise Busy naming the
    run that holds it."""
    path = lock_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = _read_holder(fd)
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        raise Busy(_busy_sentence(holder)) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"run_id": run_id, "pid": os.getpid(),
                                  "started": time.time(), **info}).encode(), 0)
        yield
    finally:
        os.close(fd)   # releases the lock


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 65536, 0) or b"{}")
    except ValueError:   # the holder is between truncating and writing
        return {}


def _busy_sentence(holder: dict) -> str:
    if not holder:
        return ("another benchmark run is going on this machine; wait for it to end (two runs "
                "at once would disturb each other's numbers)")
    started = time.strftime("%H:%M:%S", time.localtime(holder.get("started", 0)))
    return (f"another benchmark run is going on this machine: run {holder.get('run_id')} "
            f"(pid {holder.get('pid')}, started {started}, writing to {holder.get('out')}); "
            "wait for it to end or stop it (two runs at once would disturb each other's numbers)")


def _path(owner: str) -> str:
    return os.path.join(RUNS_DIR, f"{owner}.json")


def alive(pid: int) -> bool:
    """Whether process `pid` exists (signal 0)."""
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@contextmanager
def owning(owner: str, **info):
    """Register `owner` for the duration of the block.  Re-entrant: an owner
    this process already holds is left to the outer block."""
    held = entry(owner)
    if held and held.get("pid") == os.getpid():
        yield
        return
    os.makedirs(RUNS_DIR, exist_ok=True)
    with open(_path(owner), "w") as f:
        json.dump({"owner": owner, "pid": os.getpid(), "started": time.time(), **info}, f)
    try:
        yield
    finally:
        try:
            os.unlink(_path(owner))
        except FileNotFoundError:
            pass


def entry(owner: str) -> dict | None:
    try:
        with open(_path(owner)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_live(owner: str) -> bool:
    e = entry(owner)
    return bool(e) and alive(int(e["pid"]))


def live_owners() -> list[dict]:
    try:
        names = os.listdir(RUNS_DIR)
    except FileNotFoundError:
        return []
    out = []
    for name in sorted(names):
        e = entry(name[:-5]) if name.endswith(".json") else None
        if e and alive(int(e["pid"])):
            out.append(e)
    return out


def forget_dead() -> list[str]:
    """Remove registry entries of owners that are gone."""
    gone = []
    try:
        names = os.listdir(RUNS_DIR)
    except FileNotFoundError:
        return gone
    for name in names:
        owner = name[:-5]
        if name.endswith(".json") and not is_live(owner):
            os.unlink(os.path.join(RUNS_DIR, name))
            gone.append(owner)
    return gone
