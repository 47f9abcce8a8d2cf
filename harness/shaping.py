"""Link emulation on the router's egress: rate with tbf, delay and jitter
with netem (when the kernel has it), random loss with an nftables rule.

Shaping lives on the router, never on an endpoint: a qdisc on the sender's
own interface pushes back into its TCP stack (TSQ) and distorts what is
measured.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

TBF_HANDLE = "1:"
NETEM_HANDLE = "10:"
NFT_TABLE = "mpb_links"
MIN_BURST = 16 * 1024  # at least a few full-size frames, or tbf drops GSO segments


@dataclass(frozen=True)
class Direction:
    """What one direction of one link does: applied on one router egress."""
    rate_mbit: float | None
    loss_pct: float
    delay_ms: float
    jitter_ms: float
    queue_ms: float

    @property
    def shaped(self) -> bool:
        return self.rate_mbit is not None

    @property
    def needs_netem(self) -> bool:
        return self.delay_ms > 0 or self.jitter_ms > 0


def tbf_kwargs(rate_mbit: float, queue_ms: float) -> dict:
    """tbf parameters: the bucket holds 2 ms at line rate (but never less
    than MIN_BURST), and the queue holds queue_ms worth of bytes."""
    rate_bytes = rate_mbit * 1e6 / 8
    burst = max(MIN_BURST, int(rate_bytes * 0.002))
    limit = int(rate_bytes * queue_ms / 1000) + burst
    return {"rate": f"{int(rate_mbit * 1000)}kbit", "burst": burst, "limit": limit}


def netem_kwargs(d: Direction) -> dict:
    return {"delay": int(d.delay_ms * 1000), "jitter": int(d.jitter_ms * 1000), "limit": 10000}


def install_qdiscs(ipr, index: int, d: Direction) -> None:
    """tbf at the root (when rate-limited), netem below it (when delayed)."""
    parent = None
    if d.shaped:
        ipr.tc("add", "tbf", index=index, handle=TBF_HANDLE, **tbf_kwargs(d.rate_mbit, d.queue_ms))
        log.info("added qdisc tbf %g Mbit/s on ifindex %d", d.rate_mbit, index)
        parent = "1:1"
    if d.needs_netem:
        kw = netem_kwargs(d)
        log.info("added qdisc netem %s on ifindex %d", kw, index)
        if parent:
            ipr.tc("add", "netem", index=index, handle=NETEM_HANDLE, parent=parent, **kw)
        else:
            ipr.tc("add", "netem", index=index, handle=NETEM_HANDLE, **kw)


def loss_ruleset(drops: list[tuple[str, float]]) -> str:
    """An nftables ruleset dropping a random fraction of forwarded packets
    per ingress interface.  numgen draws uniformly in [0, 1e6)."""
    lines = [f"table inet {NFT_TABLE} {{", "  chain forward {",
             "    type filter hook forward priority 0; policy accept;"]
    for iifname, pct in drops:
        threshold = round(pct * 10_000)
        lines.append(f'    iifname "{iifname}" numgen random mod 1000000 < {threshold} counter drop')
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def describe_qdisc(msg) -> dict:
    """A qdisc as the kernel reports it, reduced to what a reader needs."""
    out = {"kind": msg.get_attr("TCA_KIND"), "handle": f"{msg['handle'] >> 16:x}:",
           "parent": msg["parent"]}
    opts = msg.get_attr("TCA_OPTIONS")
    if out["kind"] == "tbf" and opts is not None:
        parms = opts.get_attr("TCA_TBF_PARMS")
        if parms is not None:
            out["rate_bps"] = parms["rate"] * 8
            out["limit_bytes"] = parms["limit"]
    elif out["kind"] == "netem" and opts is not None:
        out["delay_ticks"] = opts.get("delay")
        out["jitter_ticks"] = opts.get("jitter")
        out["limit_packets"] = opts.get("limit")
    return out
