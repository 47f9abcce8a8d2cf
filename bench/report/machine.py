"""The report's first section: was the machine busy, which trials did a
neighbour disturb, which were re-run, and whose load it was.  A number that
moved because of someone else's CPU must say so before any answer."""
from __future__ import annotations

from collections import Counter, defaultdict

from bench.record.cpu_fields import DISTURBED_SHARE
from bench.report import md

TOP = 5


def section(doc: dict) -> list[str]:
    trials = [t for t in doc["trials"] if t.get("cpu_foreign_share") is not None]
    out = ["## The machine", ""]
    out += _preflight(doc["metadata"].get("machine_load"))
    if not trials:
        return out + ["No trial measured its own CPU (no trial cgroup: a run on remote hosts, "
                      "or one recorded before schema 2), so foreign load is not known.", ""]
    shares = sorted(t["cpu_foreign_share"] for t in trials)
    limit = doc["metadata"].get("suite", {}).get("disturbed_above", DISTURBED_SHARE)
    disturbed = [t for t in doc["trials"] if t["status"] == "disturbed"]
    out.append(f"Foreign CPU during the trials (everything but the trials' own cgroup and "
               f"ksoftirqd): median {shares[len(shares) // 2]:.1%} of one CPU, at most "
               f"{shares[-1]:.1%}; a trial above {limit:.0%} is disturbed, re-run, "
               f"and left out of every statistic. {len(disturbed)} of {len(doc['trials'])} "
               f"trial records were disturbed.")
    if disturbed:
        out += ["", *_reruns(doc["trials"]), "", _top(disturbed)]
    return out + [""]


def _preflight(load: dict | None) -> list[str]:
    if not load:
        return []
    state = "busy" if load.get("busy") else "quiet"
    top = ", ".join(f"{md.text(c)} {s:.2f} s" for c, s in load.get("top", [])[:3])
    return [f"Before the run the machine was **{state}**: {load['share']:.1%} of one CPU over "
            f"{load['wall_s']:.1f} s" + (f" ({top})" if top and load.get("busy") else "") + ".", ""]


def _reruns(trials: list[dict]) -> list[str]:
    """One line per trial slot that was disturbed at least once."""
    tries = defaultdict(list)
    for t in trials:
        tries[(t["scenario"], t.get("driver"), t["protocol"], t["repeat"])].append(t)
    out = ["| scenario | protocol | repeat | tries | outcome | foreign CPU per try |",
           "|---|---|---|---|---|---|"]
    for (scenario, _, proto, repeat), ts in tries.items():
        if not any(t["status"] == "disturbed" for t in ts):
            continue
        shares = " ".join(f"{t['cpu_foreign_share']:.0%}" for t in ts
                          if t.get("cpu_foreign_share") is not None)
        out.append(f"| {md.text(scenario)} | {proto.upper()} | {repeat} | {len(ts)} | "
                   f"{md.text(ts[-1]['status'])} | {shares} |")
    return out


def _top(disturbed: list[dict]) -> str:
    load: Counter = Counter()
    for t in disturbed:
        for comm, s in (t.get("cpu_accounting") or {}).get("top_foreign", []):
            load[comm] += s
    names = ", ".join(f"{md.text(c)} {s:.2f} s" for c, s in load.most_common(TOP))
    return f"The foreign load in the disturbed trials, by process name: {names or 'not named'}."
