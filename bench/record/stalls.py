"""Stalls: trials whose goodput collapsed, for the whole run or a stretch.

Rules, all on what the receiver saw, the first that applies wins:
  - a sustained stretch — at least MIN_STRETCH_S, or STRETCH_SHARE of the
    trial — ran below STARVED_FRACTION of the trial's own good rate (its
    90th-percentile interval), e.g. a path lost mid-transfer;
  - the whole trial delivered less than STALL_FRACTION of what its links
    allow (shaped links whose link-model limit is not just an upper bound);
  - an MPTCP trial delivered less than PAIRED_FRACTION of the TCP trial of
    the same repeat on the same topology: on this kernel MPTCP can collapse
    to a few per cent of TCP for a whole trial (KERNEL_NOTES), often in most
    trials of a run, so its own median cannot be the reference;
  - the whole trial delivered less than STALL_FRACTION of the median of its
    scenario x protocol x driver (needs at least MIN_GROUP ok trials).
A stalled trial keeps its MIB evidence (MPTCP-level and TCP retransmits,
duplicate data) so that a reader can tell a scheduler stall from loss.
"""
from __future__ import annotations

import statistics

from bench.record.cpu_fields import DISTURBED_SHARE

STALL_FRACTION = 0.5
PAIRED_FRACTION = 0.1
MIN_GROUP = 3
STARVED_FRACTION = 0.1
MIN_STRETCH_S = 1.0
STRETCH_SHARE = 0.25
EVIDENCE_COUNTERS = ("MPTcpExtMPTCPRetrans", "MPTcpExtDuplicateData", "MPTcpExtRcvPruned",
                     "TcpRetransSegs", "TcpExtTCPTimeouts", "TcpExtTCPLostRetransmit",
                     "TcpExtTCPOFOQueue")


def starved_stretch(intervals: list[int], interval_s: float) -> tuple[float, float] | None:
    """(start_s, length_s) of the longest run of intervals below
    STARVED_FRACTION of the trial's good rate, or None.  The last interval
    is partial and ignored."""
    series = intervals[:-1]
    if len(series) < 3:
        return None
    good = sorted(series)[int(0.9 * (len(series) - 1))]
    if good <= 0:
        return None
    limit = STARVED_FRACTION * good
    best, start = (0, 0), None
    for i, value in enumerate(series + [good]):   # sentinel closes a final run
        if value < limit and start is None:
            start = i
        elif value >= limit and start is not None:
            if i - start > best[1]:
                best = (start, i - start)
            start = None
    if best[1] == 0:
        return None
    return best[0] * interval_s, best[1] * interval_s


def evidence(trial: dict) -> dict:
    mib = trial.get("mib") or {}
    out = {}
    for side in ("client", "server"):
        for name in EVIDENCE_COUNTERS:
            value = (mib.get(side) or {}).get(name)
            if value:
                out[f"{side}.{name}"] = value
    return out


def _mark(trial: dict, reason: str, **detail) -> None:
    trial["status"] = "stalled"
    trial["reason"] = reason + under_load(trial)
    trial["stall"] = {**detail, "evidence": evidence(trial)}


def under_load(trial: dict) -> str:
    """A stall beside foreign CPU load (a run whose limit lets such trials
    through, `--disturbed-above`) says so, with the load: a finding about
    MPTCP under CPU contention, not an unexplained stall."""
    share = trial.get("cpu_foreign_share")
    if share is None or share <= DISTURBED_SHARE:
        return ""
    top = (trial.get("cpu_accounting") or {}).get("top_foreign") or []
    named = ", ".join(f"{comm} {s:.2f} s" for comm, s in top[:3])
    return (f", under foreign CPU load of {share:.0%} of one CPU"
            + (f" ({named})" if named else ""))


def _stretch_rule(trial: dict) -> bool:
    found = starved_stretch(trial.get("intervals_bytes") or [], trial.get("interval_s") or 0.1)
    if not found:
        return False
    start, length = found
    span = trial.get("duration_s") or 0
    threshold = min(MIN_STRETCH_S, STRETCH_SHARE * span) if span else MIN_STRETCH_S
    if length < threshold:
        return False
    _mark(trial, f"goodput fell below {STARVED_FRACTION:.0%} of its own rate for "
                 f"{length:.1f} s from {start:.1f} s", stretch_start_s=start, stretch_s=length)
    return True


def _mbit(bps: float) -> str:
    return f"{bps / 1e6:.1f} Mbit/s"


def _whole_trial_rules(t: dict, median: float | None, paired_tcp: float | None) -> bool:
    gp, limit = t["goodput_bps"], t.get("expected_goodput_bps")
    if limit and not t.get("expected_is_upper_bound") and gp < STALL_FRACTION * limit:
        _mark(t, f"goodput {_mbit(gp)} is {gp / limit:.0%} of what the links allow ({_mbit(limit)})",
              fraction_of_limit=gp / limit)
    elif t["protocol"] == "mptcp" and paired_tcp and gp < PAIRED_FRACTION * paired_tcp:
        _mark(t, f"goodput {_mbit(gp)} is {gp / paired_tcp:.0%} of the paired TCP trial's "
                 f"{_mbit(paired_tcp)}", fraction_of_paired_tcp=gp / paired_tcp)
    elif median and gp < STALL_FRACTION * median:
        _mark(t, f"goodput {_mbit(gp)} is {gp / median:.0%} of the median {_mbit(median)}",
              fraction_of_median=gp / median)
    else:
        return False
    return True


def classify(trials: list[dict]) -> None:
    """Mark stalled trials in place (only trials that are `ok` so far)."""
    groups: dict[tuple, list[dict]] = {}
    for t in trials:
        if t["status"] == "ok" and t.get("goodput_bps"):
            groups.setdefault((t["scenario"], t["protocol"], t.get("driver")), []).append(t)
    tcp = {(t["scenario"], t.get("driver"), t["repeat"]): t["goodput_bps"]
           for t in groups_of(groups, "tcp")}
    for group in groups.values():
        median = statistics.median(t["goodput_bps"] for t in group) if len(group) >= MIN_GROUP else None
        for t in group:
            paired = tcp.get((t["scenario"], t.get("driver"), t["repeat"]))
            # A stretch says where the collapse was: it is tried first.
            if not _stretch_rule(t):
                _whole_trial_rules(t, median, paired)


def groups_of(groups: dict, protocol: str) -> list[dict]:
    return [t for (_, proto, _), g in groups.items() if proto == protocol for t in g]
