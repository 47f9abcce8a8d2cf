"""The root namespace, snapshotted: a run (finished, interrupted or
killed) must leave it exactly as it was.  Every sysctl (all of /proc/sys:
kernel.*, vm.* and fs.* can be written from inside a namespace), links,
addresses, routes of every table, policy rules, qdiscs, the nftables
ruleset and the iptables rules, as plain data; counters and timers that
move on their own are dropped."""
from __future__ import annotations

import json
import os
import re
import subprocess

# Sysctls that are counters or state the kernel moves on its own, not settings.
VOLATILE_SYSCTLS = {"net.netfilter.nf_conntrack_count", "fs.dentry-state", "fs.inode-nr",
                    "fs.inode-state", "fs.file-nr", "fs.aio-nr", "kernel.ns_last_pid",
                    "kernel.random.uuid", "kernel.random.entropy_avail", "kernel.pty.nr",
                    "kernel.warn_count", "kernel.oops_count",
                    # lowered by the kernel itself when perf sampling takes too long
                    "kernel.perf_event_max_sample_rate", "kernel.perf_cpu_time_max_percent"}
VOLATILE_PREFIXES = ("fs.quota.",)
VOLATILE_KEYS = {"valid_life_time", "preferred_life_time", "expires", "stats", "stats64",
                 "used", "lastused"}


def _sysctls() -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk("/proc/sys"):
        for name in files:
            path = os.path.join(dirpath, name)
            key = path[len("/proc/sys/"):].replace("/", ".")
            if key in VOLATILE_SYSCTLS or key.startswith(VOLATILE_PREFIXES):
                continue
            try:
                with open(path) as f:
                    out[key] = f.read().strip()
            except OSError:       # write-only entries
                continue
    return out


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _json(argv: list[str]):
    return _strip(json.loads(subprocess.run(argv, capture_output=True, text=True,
                                            check=True).stdout or "[]"))


def _text(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    # A tool that fails prints nothing, and two empty snapshots would compare
    # equal whatever the firewall did.
    assert proc.returncode == 0, (f"{' '.join(argv)} failed (exit {proc.returncode}): "
                                  f"{proc.stderr.strip()}; the root namespace cannot be compared")
    # Comments carry timestamps; [packets:bytes] and "counter packets N bytes M" move.
    lines = [l for l in proc.stdout.splitlines() if not l.startswith("#")]
    text = "\n".join(lines)
    text = re.sub(r"\[\d+:\d+\]", "[-]", text)
    return re.sub(r"counter packets \d+ bytes \d+", "counter", text)


def snapshot() -> dict:
    snap = {"sysctls": _sysctls(),
            "links": _json(["ip", "-j", "link", "show"]),
            "addresses": _json(["ip", "-j", "addr", "show"]),
            "qdiscs": _json(["tc", "-j", "qdisc", "show"]),
            "nftables": _text(["nft", "list", "ruleset"]),
            "iptables": _text(["iptables-save"]) + _text(["ip6tables-save"])}
    for family in ("-4", "-6"):
        snap[f"routes{family}"] = _json(["ip", "-j", family, "route", "show", "table", "all"])
        snap[f"rules{family}"] = _json(["ip", "-j", family, "rule", "show"])
    return snap


def differences(before: dict, after: dict) -> list[str]:
    out = []
    for key in before:
        if key == "sysctls":
            changed = {k for k in before[key].keys() | after[key].keys()
                       if before[key].get(k) != after[key].get(k)}
            out += [f"sysctl {k}: {before[key].get(k)!r} -> {after[key].get(k)!r}"
                    for k in sorted(changed)]
        elif before[key] != after[key]:
            out.append(f"{key} changed:\n  before {before[key]}\n  after  {after[key]}")
    return out


def assert_unchanged(before: dict) -> None:
    diff = differences(before, snapshot())
    assert not diff, "the root namespace changed: " + "; ".join(diff)
