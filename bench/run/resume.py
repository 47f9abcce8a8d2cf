"""`bench run --resume RUN_DIR`: continue an interrupted (or killed) run.

The plan is rebuilt from what the run recorded — results.json is written
when a run starts and after each scenario, so even a SIGKILLed run leaves
one — and the journal says which trials finished.  A resume runs only the
trials that did not, in the same order, in the same run directory; it is
refused when the scenarios' definitions changed since the run started (a
run must measure one thing), when the kernel differs, or when the run is
still going.
"""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from bench import names, results_format
from bench.catalog import Catalog
from bench.errors import InputError
from bench.results_format import JOURNAL, RESULTS
from bench.run.orchestrator import Run
from bench.run.plan import Plan, trial_key
from bench.run.rundir import RunDir, read_journal
from harness import ownership


def _first_difference(recorded, current, where: str = "") -> str | None:
    """The first key where two definitions differ, as `key: old -> new`."""
    if isinstance(recorded, list) and isinstance(current, list) and len(recorded) == len(current):
        recorded, current = dict(enumerate(recorded)), dict(enumerate(current))
    if isinstance(recorded, dict) and isinstance(current, dict):
        for key in sorted(set(recorded) | set(current), key=str):
            diff = _first_difference(recorded.get(key), current.get(key),
                                     f"{where}.{key}" if where else str(key))
            if diff:
                return diff
        return None
    if recorded != current:
        return f"{where}: {recorded!r} then, {current!r} now"
    return None


def _scenarios(run_dir: Path, suite: dict, as_run=lambda s: s) -> list:
    try:
        catalog = Catalog(suite.get("scenario_files", []))
    except InputError as exc:
        raise InputError(f"cannot resume {run_dir}: {exc}") from None
    picked = []
    for name in suite["scenarios"]:
        if name not in catalog.scenarios:
            raise InputError(f"cannot resume {run_dir}: scenario {name!r} is no longer defined; "
                             "restore its definition or start a new run")
        current = as_run(catalog.scenarios[name])
        diff = _first_difference(suite["definitions"][name], current.model_dump(mode="json"))
        if diff:
            raise InputError(f"cannot resume {run_dir}: scenario {name!r} changed since the run "
                             f"started ({diff}); restore it or start a new run")
        picked.append(current)
    return picked


def _check_same_machine(run_dir: Path, doc: dict) -> None:
    then = doc["metadata"].get("kernel", {}).get("release")
    now = platform.uname().release
    # A hosts run measured the hosts' kernels (checked once they answer),
    # not the controller's.
    if then != now and _lane(doc).get("kind") != "hosts":
        raise InputError(f"cannot resume {run_dir}: it ran on kernel {then}, this is {now}; "
                         "one run measures one kernel, so start a new run")
    run_id = doc["run_id"]
    if ownership.is_live(run_id):
        raise InputError(f"cannot resume {run_dir}: run {run_id} is still going "
                         f"(pid {ownership.entry(run_id)['pid']}); stop it first")


def _lane(doc: dict) -> dict:
    return doc["metadata"].get("lane") or {}


def load(run_dir: Path) -> tuple[Plan, dict, object]:
    """The recorded plan (scenarios re-validated against today's
    definitions), the results document it came from, and for a hosts run
    its lane (else None)."""
    doc = results_format.load_results(run_dir / RESULTS)
    if doc["state"] == "complete":
        raise InputError(f"{run_dir} is a complete run: there is nothing to resume")
    suite = doc["metadata"]["suite"]
    if "definitions" not in suite:
        raise InputError(f"cannot resume {run_dir}: it was written by an mptcp-bench that did "
                         "not record its plan; start a new run")
    _check_same_machine(run_dir, doc)
    lane, as_run = None, (lambda s: s)
    if _lane(doc).get("kind") == "hosts":
        from bench.hosts import run as hosts
        lane, as_run = hosts.resume_lane(run_dir, _lane(doc))
    return Plan.from_dict(suite, _scenarios(run_dir, suite, as_run)), doc, lane


def prepare(run_dir: Path, progress, argv: list[str]) -> Run:
    """A Run that continues `run_dir`: finished trials are kept and skipped,
    interrupted ones are run again (they stay in the journal)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    names.check("run", run_dir.name, f"cannot resume {run_dir}: ")
    plan, doc, lane = load(run_dir)
    journal = results_format.check_trials(read_journal(run_dir), str(run_dir / JOURNAL))
    kept = [t for t in journal if t["status"] != "interrupted"]
    meta = doc["metadata"]
    meta.setdefault("resumes", []).append({
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": argv, "pid": os.getpid(),
        "trials_kept": len(kept), "interrupted_rerun": len(journal) - len(kept),
        "after_stop": meta.pop("stopped", None)})
    kind = Run
    if lane is not None:
        from bench.hosts.run import HostsRun
        kind = HostsRun
    run = kind(plan, RunDir(run_dir.parent, run_dir.name), progress, argv, trials=kept,
               scenarios=doc["scenarios"], done={trial_key(t) for t in kept},
               resumed_meta=meta, next_seq=1 + max((t["seq"] for t in journal), default=-1))
    if lane is not None:
        run.lane = lane
    return run
