"""Reading and writing sysctls inside a namespace (never the root one)."""
from __future__ import annotations

import os

from harness import netns
from harness.errors import TopologyError


def _path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def _write_all(values: dict[str, object]) -> None:
    for key, value in values.items():
        try:
            with open(_path(key), "w") as f:
                f.write(str(value))
        except FileNotFoundError:
            raise TopologyError(f"sysctl {key} does not exist on this kernel; "
                                "remove it from the scenario") from None
        except OSError as exc:
            raise TopologyError(f"cannot set sysctl {key}={value}: {exc.strerror}; "
                                "check the value is valid for this kernel") from None


def _read_all(keys: list[str], trees: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in keys:
        try:
            with open(_path(key)) as f:
                out[key] = f.read().strip()
        except OSError:
            continue
    for tree in trees:
        root = _path(tree)
        for dirpath, _, files in os.walk(root):
            for name in files:
                full = os.path.join(dirpath, name)
                key = full[len("/proc/sys/"):].replace("/", ".")
                try:
                    with open(full) as f:
                        out[key] = f.read().strip()
                except OSError:  # write-only or permission-restricted entries
                    continue
    return dict(sorted(out.items()))


def write(ns: str, values: dict[str, object]) -> None:
    if values:
        netns.call_in(ns, _write_all, dict(values))


def read(ns: str, keys: list[str] = (), trees: list[str] = ()) -> dict[str, str]:
    """Values of `keys` (missing ones skipped) and of every entry under each
    tree (e.g. "net.mptcp"), as the kernel reports them inside `ns`."""
    return netns.call_in(ns, _read_all, list(keys), list(trees))
