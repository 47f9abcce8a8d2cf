"""Who owns which namespaces: every run (and every capability probe)
registers its PID under RUNS_DIR, so `bench clean` removes only what a dead
owner left and never touches a run that is still going."""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager

RUNS_DIR = "/run/mptcp-bench"


def _path(owner: str) -> str:
    return os.path.join(RUNS_DIR, f"{owner}.json")


def _alive(pid: int) -> bool:
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
    return bool(e) and _alive(int(e["pid"]))


def live_owners() -> list[dict]:
    try:
        names = os.listdir(RUNS_DIR)
    except FileNotFoundError:
        return []
    out = []
    for name in sorted(names):
        e = entry(name[:-5]) if name.endswith(".json") else None
        if e and _alive(int(e["pid"])):
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
