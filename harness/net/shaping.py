"""Link emulation on the router: random loss with an nftables rule on the
forward hook, delay and jitter from one of two backends (netem, when the
kernel has it, or the host delay line of harness.net.delayline), rate with tbf
on the egress interface.  A packet meets them in that order: loss, delay,
rate (docs/delay.md).

Shaping lives on the router, never on an endpoint: a qdisc on the sender's
own interface pushes back into its TCP stack (TSQ) and distorts what is
measured.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

ROOT_HANDLE = "1:"      # whichever qdisc is at the root
CHILD_HANDLE = "10:"    # tbf, below netem
DELAY_BACKENDS = ("host", "netem")
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
    reorder: bool = False            # jittered packets may overtake each other
    distribution: str | None = None  # jitter drawn from this table (uniform without one)

    @property
    def shaped(self) -> bool:
        return self.rate_mbit is not None

    @property
    def delayed(self) -> bool:
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


def install_qdiscs(ipr, index: int, d: Direction, netem: bool) -> None:
    """The egress qdiscs: with `netem` (the netem backend) and a delay, netem
    at the root and tbf below it, so that packets are delayed, then rated,
    and tbf's own queue limit holds; otherwise tbf alone (when rated)."""
    tbf = {"handle": ROOT_HANDLE}
    if netem and d.delayed:
        kw = netem_kwargs(d)
        ipr.tc("add", "netem", index=index, handle=ROOT_HANDLE, **kw)
        log.info("added qdisc netem %s on ifindex %d", kw, index)
        tbf = {"handle": CHILD_HANDLE, "parent": "1:1"}
    if d.shaped:
        ipr.tc("add", "tbf", index=index, **tbf, **tbf_kwargs(d.rate_mbit, d.queue_ms))
        log.info("added qdisc tbf %g Mbit/s on ifindex %d", d.rate_mbit, index)


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
