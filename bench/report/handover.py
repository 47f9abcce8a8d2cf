"""The answer of a scenario whose path went down and came back: when each
protocol used the restored path again, counted over every trial that
measured it, stalled ones included (a stall is what a restore can end in;
a disturbed one is re-run, and its retry counts), and the trials where it
carried nothing until the end said as such."""
from __future__ import annotations

import statistics

from bench.record.restore import READDRESS


def _part(rows: list[dict], protocol: str) -> str:
    used = [r["first_data_s"] for r in rows if r["first_data_s"] is not None]
    text = f"{protocol.upper()} "
    if used:
        spread = f", {min(used):.2f}–{max(used):.2f}" if len(used) > 1 else ""
        text += (f"used it again after {statistics.median(used):.2f} s (median{spread}) "
                 f"in {len(used)} of {len(rows)} trials")
    unused = [r["watched_s"] for r in rows if r["first_data_s"] is None]
    if unused:
        text += "; " * bool(used) + (f"never used it again in {len(unused)} of {len(rows)} trials "
                                     f"(watched {min(unused):.1f} s after the restore)")
    return text


def restored(trials: list[dict], scenario: str, driver) -> str | None:
    """One clause per protocol about the trials' first restore, or None."""
    parts, outage = [], []
    for protocol in ("tcp", "mptcp"):
        rows = [t["restores"][0] for t in trials
                if t["scenario"] == scenario and t.get("driver") == driver
                and t["protocol"] == protocol and t.get("restores")
                and t["status"] != "disturbed"]      # re-run: its retry is counted instead
        if rows:
            parts.append(_part(rows, protocol))
            outage += [(r["link"], r["down_s"], r.get("after", "up")) for r in rows]
    if not parts:
        return None
    link, after = outage[0][0], outage[0][2]
    if after in READDRESS:
        told = "its path manager told" if after == "readdress_pm" else "its path manager not told"
        return f"the client's address on link {link} changed, {told}: " + "; ".join(parts)
    down = statistics.median(d for _, d, _ in outage)
    return f"link {link} came back after a {down:.1f}-s outage: " + "; ".join(parts)
