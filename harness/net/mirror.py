"""Port mirroring on the router: a copy of every packet arriving on some
interfaces leaves by another (tc ingress, u32 match-all, mirred egress
mirror), as a switch's SPAN port gives an on-path observer."""
from __future__ import annotations

ETH_P_ALL = 0x0003
INGRESS = 0xFFFF0000


def install(ipr, sources: list[str], target: str) -> None:
    """Mirror what arrives on each of `sources` out of `target` (ipr: an
    IPRoute in the namespace that has them all)."""
    out = ipr.link_lookup(ifname=target)[0]
    for name in sources:
        index = ipr.link_lookup(ifname=name)[0]
        ipr.tc("add", "ingress", index, "ffff:")
        ipr.tc("add-filter", "u32", index, parent=INGRESS, protocol=ETH_P_ALL,
               prio=10, keys=["0x0/0x0+0"], target=INGRESS | 1,
               action=[{"kind": "mirred", "direction": "egress", "action": "mirror", "ifindex": out}])


def read_back(ipr, sources: list[str]) -> dict[str, int]:
    """{source: filters on its ingress} as the kernel reports them."""
    out = {}
    for name in sources:
        index = ipr.link_lookup(ifname=name)[0]
        found = 0
        for f in ipr.get_filters(index=index, parent=INGRESS):
            options = f.get_attr("TCA_OPTIONS")
            found += bool(f.get_attr("TCA_KIND") == "u32" and options is not None
                          and options.get_attr("TCA_U32_SEL"))
        out[name] = found
    return out
