"""Facts about the machine a run happened on, read from the system."""
from __future__ import annotations

import gzip
import os
import platform
import re

CONFIG_KEYS = re.compile(r"^(CONFIG_MPTCP\w*|CONFIG_NET_SCH_(TBF|HTB|NETEM)|CONFIG_NF_TABLES"
                         r"|CONFIG_TCP_CONG_\w+|CONFIG_DEFAULT_TCP_CONG|CONFIG_HZ|CONFIG_PREEMPT\w*"
                         r"|CONFIG_IO_URING|CONFIG_NET_NS|CONFIG_VETH)=(.*)$")


def kernel_config() -> dict[str, str] | None:
    """The relevant options of /proc/config.gz, or None without it."""
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        m = CONFIG_KEYS.match(line)
        if m:
            out[m.group(1)] = m.group(3)
    return out


def read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cpu() -> dict:
    model = None
    for line in (read_text("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"model": model, "count": os.cpu_count(),
            "usable": sorted(os.sched_getaffinity(0)),
            "governor": read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")}


def kernel() -> dict:
    u = platform.uname()
    return {"release": u.release, "version": u.version, "machine": u.machine,
            "config": kernel_config()}


def loadavg() -> list[float] | None:
    text = read_text("/proc/loadavg")
    return [float(x) for x in text.split()[:3]] if text else None
