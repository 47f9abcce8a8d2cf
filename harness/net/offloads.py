"""Segmentation and receive offloads of a topology's interfaces, read from
and set through the kernel's ethtool interface (pyroute2), inside each
namespace.  A TCP-against-MPTCP comparison is fair only when both ran with
the same offloads: GRO in particular (some NICs refuse it on segments that
carry MPTCP options, and on veth it is off unless turned on)."""
from __future__ import annotations

import contextlib

from harness import limits
from harness.errors import TopologyError
from harness.host import netns


def _read(ifnames: list[str]) -> dict[str, dict[str, bool]]:
    from pyroute2.ethtool import Ethtool
    out = {}
    with contextlib.closing(Ethtool()) as ethtool:
        for ifname in ifnames:
            have = ethtool.get_features(ifname).features
            # a feature the device cannot change and does not have (LRO on veth) is left out
            out[ifname] = {short: have[name].enable for short, name in limits.OFFLOADS.items()
                           if name in have and (have[name].enable or have[name].available)}
    return out


def read(ns: str, ifnames: list[str]) -> dict[str, dict[str, bool]]:
    """{ifname: {"gro": on, "gso": on, "tso": on, ...}} in namespace `ns`."""
    return netns.call_in(ns, _read, list(ifnames))


def _set(ifnames: list[str], wanted: dict[str, bool]) -> None:
    from pyroute2.ethtool import Ethtool
    with contextlib.closing(Ethtool()) as ethtool:
        for ifname in ifnames:
            features = ethtool.get_features(ifname)
            for short, on in wanted.items():
                feature = features.features.get(limits.OFFLOADS[short])
                if feature is None or (not feature.available and feature.enable != on):
                    raise TopologyError(f"{ifname} cannot turn {short} {'on' if on else 'off'} "
                                        "(fixed by its driver); leave it out of `offloads`")
                feature.enable = on
            ethtool.set_features(ifname, features)


def apply(ns: str, ifnames: list[str], wanted: dict[str, bool]) -> None:
    """Turn each of `wanted` on or off on every one of `ifnames` in `ns`, and
    check that the kernel took it."""
    if not wanted:
        return
    netns.call_in(ns, _set, list(ifnames), dict(wanted))
    got = read(ns, ifnames)
    for ifname, have in got.items():
        off = [k for k, on in wanted.items() if have.get(k) != on]
        if off:
            raise TopologyError(f"{ifname} kept {', '.join(off)} as it was after being told "
                                f"{', '.join(f'{k}={wanted[k]}' for k in off)}")
