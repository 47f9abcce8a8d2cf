"""Reading and writing sysctls inside a namespace (never the root one).

Only a sysctl that belongs to a network namespace may be written: kernel.*,
vm.*, fs.* and some net.* keys are visible (and writable) from inside a
namespace but are the host's.  Which keys are per-namespace is asked of the
running kernel (see scope()), never taken from a list.
"""
from __future__ import annotations

import fnmatch
import logging
import os

from harness import limits
from harness.errors import CapabilityError, HarnessError, TopologyError
from harness.host import netns, sysinfo

log = logging.getLogger(__name__)

KEY = limits.SYSCTL_KEY
PER_NETNS, GLOBAL, ROOT_ONLY, MISSING = "per-netns", "global", "root-only", "missing"

# Sysctls whose value must be one the kernel lists as available (a
# scheduler or path manager that is not built in cannot be loaded on demand).
CHOICES = {"net.mptcp.scheduler": "net.mptcp.available_schedulers",
           "net.mptcp.path_manager": "net.mptcp.available_path_managers"}


def _path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


class HostSysctlError(HarnessError):
    """A sysctl that is not per network namespace: writing it changes the host."""


def scope(key: str) -> str:
    """Where `key` lives on the running kernel: PER_NETNS, GLOBAL (one value
    shared by every namespace), ROOT_ONLY (registered in the root namespace
    only) or MISSING.

    The kernel gives each namespace its own sysctl table entries for what it
    registers per namespace, and /proc/sys shows a namespace its own entries:
    the same key seen from a new namespace is then another inode, while a
    global key is the very same one.  The root namespace's file is held open
    meanwhile, so its inode number cannot be reused."""
    return _scopes((key,))[key] if KEY.fullmatch(key) else MISSING


_SCOPES: dict[str, str] = {}      # the kernel's answer does not change while we run


def _scopes(keys: tuple[str, ...]) -> dict[str, str]:
    """scope() of each key, the ones not asked before in one new namespace."""
    todo = [k for k in keys if k not in _SCOPES]
    held = {}
    try:
        for key in todo:
            if os.path.isfile(_path(key)):
                held[key] = os.open(_path(key), os.O_PATH)
        if todo:
            _SCOPES.update(netns.call_in_new(
                lambda: {key: _scope_here(key, held.get(key)) for key in todo},
                "telling per-namespace sysctls from the host's"))
    finally:
        for fd in held.values():
            os.close(fd)
    return {key: _SCOPES[key] for key in keys}


def _scope_here(key: str, root_fd: int | None) -> str:
    here = os.stat(_path(key)) if os.path.isfile(_path(key)) else None
    if root_fd is None:
        return PER_NETNS if here is not None else MISSING
    if here is None:
        return ROOT_ONLY
    return GLOBAL if os.fstat(root_fd).st_ino == here.st_ino else PER_NETNS


def require_per_netns(keys, what: str) -> None:
    """Refuse a key that is not the namespace's own (HostSysctlError), or
    that the kernel does not have (CapabilityError)."""
    for key in keys:
        if not KEY.fullmatch(key):
            raise HostSysctlError(f"{what}: {key!r} is not a sysctl name (dot-separated "
                                  "letters, digits, '_' and '-'); fix the key")
    scopes = _scopes(tuple(keys))
    for key in keys:
        where = scopes[key]
        if where == MISSING:
            raise CapabilityError(f"{what}: sysctl {key} does not exist on this kernel; "
                                  "remove it from the scenario or run on a kernel that has it")
        if where == GLOBAL:
            raise HostSysctlError(f"{what}: sysctl {key} is not per network namespace on this "
                                  "kernel (every namespace shares the host's value, so setting "
                                  "it would change the host); remove it from the scenario")
        if where == ROOT_ONLY:
            raise HostSysctlError(f"{what}: sysctl {key} exists only in the root network "
                                  "namespace on this kernel (a host-wide setting); remove it "
                                  "from the scenario")


def check(values: dict[str, object], what: str) -> None:
    """Refuse, before anything is made, a sysctl of `what` that is not per
    network namespace, that this kernel does not have, or a choice it does
    not offer (the keys and the choices are the kernel's, the same in every
    namespace)."""
    require_per_netns(values, what)
    for key, value in values.items():
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
        require_per_netns(values, f"namespace {ns}")
        log.info("set sysctls in %s: %s", ns, ", ".join(f"{k}={v}" for k, v in values.items()))
        netns.call_in(ns, _write_all, dict(values))


def read(ns: str, patterns: list[str]) -> dict[str, str]:
    """Every sysctl matching one of `patterns` — a key ("net.core.rmem_max"),
    a tree ("net.mptcp") or a glob ("net.ipv4.tcp_*") — as the kernel reports
    it inside `ns`; missing keys are skipped."""
    return netns.call_in(ns, _read_all, list(patterns))
