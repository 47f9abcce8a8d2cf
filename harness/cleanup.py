"""Removing what a killed run left: its namespaces (and with them every veth
and qdisc), any process still inside them, and its trial cgroup.  Only
namespaces and cgroups with the project prefix whose owner is no longer
alive are touched."""
from __future__ import annotations

from harness import ownership
from harness.host import netns
from harness.measure import cgroupcpu


def owner_of(name: str) -> str:
    """mpb-<owner>-<role> -> <owner>"""
    return name[len(netns.PREFIX) + 1:].rsplit("-", 1)[0]


def leftovers(owner: str | None = None) -> tuple[list[str], list[str]]:
    """(namespaces of dead owners, namespaces of live ones), of one owner
    only when `owner` is given."""
    dead, live = [], []
    for name in netns.list_names():
        if owner is not None and owner_of(name) != owner:
            continue
        (live if ownership.is_live(owner_of(name)) else dead).append(name)
    return dead, live


def clean(owner: str | None = None) -> dict:
    dead, live = leftovers(owner)
    killed = netns.destroy(dead)
    cgroups = cgroupcpu.remove([p for p in cgroupcpu.leftovers()
                                if (owner is None or owner_of(p.name) == owner)
                                and not ownership.is_live(owner_of(p.name))])
    forgotten = ownership.forget_dead()
    return {"namespaces": dead, "processes": killed, "skipped_live": live,
            "registry_entries": forgotten, "cgroups": cgroups}
