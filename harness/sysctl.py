"""Reading and writing sysctls inside a namespace (never the root one)."""
from __future__ import annotations

import fnmatch
import os

from harness import netns, sysinfo
from harness.errors import CapabilityError, TopologyError

# Sysctls whose value must be one the kernel lists as available (a
# scheduler or path manager that is not built in cannot be loaded on demand).
CHOICES = {"net.mptcp.scheduler": "net.mptcp.available_schedulers",
           "net.mptcp.path_manager": "net.mptcp.available_path_managers"}


def _path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def check(values: dict[str, object], what: str) -> None:
    """Refuse, before anything is made, a sysctl of `what` this kernel does
    not have or a choice it does not offer (read from this process's
    namespace: the keys and the choices are the kernel's, the same in every
    namespace)."""
    for key, value in values.items():
        if not os.path.isfile(_path(key)):
            raise CapabilityError(f"{what}: sysctl {key} does not exist on this kernel; "
                                  "remove it from the scenario or run on a kernel that has it")
        listed = sysinfo.read_text(_path(CHOICES[key])) if key in CHOICES else None
        if listed is not None and str(value).strip() not in listed.split():
            raise CapabilityError(f"{what}: sysctl {key}={value}: this kernel offers "
                                  f"{', '.join(listed.split()) or 'nothing'} "
                                  f"({CHOICES[key]}); choose one of them")


def _write_all(values: dict[str, object]) -> None:
    for key, value in values.items():
        try:
            with open(_path(key), "w") as f:
                f.write(str(value))
        except FileNotFoundError:
            raise TopologyError(f"sysctl {key} does not exist in this namespace; "
                                "remove it from the scenario") from None
        except OSError as exc:
            raise TopologyError(f"cannot set sysctl {key}={value}: {exc.strerror}; "
                                "check the value is valid for this kernel") from None


def _read_all(patterns: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pattern in patterns:
        # Walk the deepest directory without wildcards, keep what matches.
        fixed = pattern.split("*")[0].rsplit(".", 1)[0] if "*" in pattern else pattern
        root = _path(fixed)
        paths = [root] if os.path.isfile(root) else [
            os.path.join(d, f) for d, _, files in os.walk(root) for f in files]
        for full in paths:
            key = full[len("/proc/sys/"):].replace("/", ".")
            if not (fnmatch.fnmatchcase(key, pattern) or key.startswith(pattern + ".")
                    or key == pattern):
                continue
            try:
                with open(full) as f:
                    out[key] = f.read().strip()
            except OSError:  # write-only or permission-restricted entries
                continue
    return dict(sorted(out.items()))


def write(ns: str, values: dict[str, object]) -> None:
    if values:
        netns.call_in(ns, _write_all, dict(values))


def read(ns: str, patterns: list[str]) -> dict[str, str]:
    """Every sysctl matching one of `patterns` — a key ("net.core.rmem_max"),
    a tree ("net.mptcp") or a glob ("net.ipv4.tcp_*") — as the kernel reports
    it inside `ns`; missing keys are skipped."""
    return netns.call_in(ns, _read_all, list(patterns))
