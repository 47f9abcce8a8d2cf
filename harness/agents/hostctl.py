"""The MPTCP path manager of the host it runs on, for a controller that
reaches it over SSH (bench.hosts): show, apply a scenario's endpoints and
limits, and restore exactly what was there.

    python -m harness.agents.hostctl version
    python -m harness.agents.hostctl pm-show
    python -m harness.agents.hostctl pm-apply STATE_FILE '{"limits": {...}, "endpoints": [...]}'
    python -m harness.agents.hostctl pm-restore STATE_FILE
    python -m harness.agents.hostctl links-apply STATE_FILE '{"egress": [...]}'   (a router)
    python -m harness.agents.hostctl links-restore STATE_FILE

pm-apply first saves the current configuration to STATE_FILE; pm-restore
puts it back and removes the file.  A STATE_FILE left by a controller that
died is restored before anything new is applied, so a later run (or
`bench clean --hosts`) undoes what a killed one changed.  links-apply and
links-restore do the same for a configurable router's link shaping (tbf,
netem, an nftables loss table: harness.net.shaping).  Output: one JSON
document on stdout.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from harness.net import pathmanager, shaping

TC_H_ROOT = 0xFFFFFFFF


def _mptcp_pm():
    from pyroute2.netlink.generic.mptcp import MPTCP
    return MPTCP()


def show() -> dict:
    with _mptcp_pm() as pm:
        return {"limits": pathmanager.limits_of(pm), "endpoints": pathmanager.endpoints_of(pm)}


def _set(config: dict) -> None:
    """Replace the endpoints and limits with `config` (endpoints with an id,
    port and ifindex are put back as they were)."""
    with _mptcp_pm() as pm:
        pm.endpoint("flush")
        limits = config["limits"]
        pm.limits("set", subflows=limits["subflows"], add_addr_accepted=limits["add_addr_accepted"])
        for ep in config["endpoints"]:
            ifindex = ep.get("ifindex") or (socket.if_nametoindex(ep["ifname"])
                                            if ep.get("ifname") else 0)
            pathmanager.add_endpoint(pm, ep["address"], ep["flags"], ifindex,
                                     ep.get("id") or 0, ep.get("port") or 0)


def _load(state_file: str) -> dict | None:
    """What an apply saved, or None when nothing is saved."""
    try:
        with open(state_file) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def restore(state_file: str) -> dict | None:
    saved = _load(state_file)
    if saved is None:
        return None
    _set(saved)
    os.unlink(state_file)
    return saved


def apply(state_file: str, config: dict) -> dict:
    left = restore(state_file)
    saved = show()
    _save(state_file, saved)
    _set(config)
    return {"saved": saved, "applied": show(), "restored_leftover": left}


def _ipr():
    from pyroute2 import IPRoute
    return IPRoute()


def _root_qdisc(ipr, index: int) -> dict | None:
    for msg in ipr.get_qdiscs(index=index):
        if msg["parent"] == TC_H_ROOT:
            return {"kind": msg.get_attr("TCA_KIND"), "handle": msg["handle"]}
    return None


def qdiscs() -> dict:
    """Every interface's qdiscs as the kernel reports them."""
    with _ipr() as ipr:
        names = {l["index"]: l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}
        out: dict = {}
        for msg in ipr.get_qdiscs():
            out.setdefault(names.get(msg["index"], str(msg["index"])), []).append(
                shaping.describe_qdisc(msg))
    return out


def links_restore(state_file: str) -> dict | None:
    """Remove the qdiscs and loss rules links-apply put on this router."""
    saved = _load(state_file)
    if saved is None:
        return None
    with _ipr() as ipr:
        for ifname in saved["interfaces"]:
            try:      # the kernel puts its default root qdisc back
                ipr.tc("del", index=socket.if_nametoindex(ifname), root=True)
            except Exception:      # already gone (not shaped, or the interface went)
                pass
    if saved["nft"]:
        subprocess.run(["nft", "delete", "table", "inet", shaping.NFT_TABLE], capture_output=True)
    os.unlink(state_file)
    return saved


def links_apply(state_file: str, config: dict) -> dict:
    """Shape this router's egress interfaces as `config` says: {"egress":
    [{"ifname", "rate_mbit", "loss_pct", "delay_ms", "jitter_ms", "queue_ms"}]}.
    An interface with a qdisc someone configured (a non-zero root handle) is
    refused: it could not be put back exactly."""
    left = links_restore(state_file)
    egress = config["egress"]
    with _ipr() as ipr:
        for e in egress:
            root = _root_qdisc(ipr, socket.if_nametoindex(e["ifname"]))
            if root and root["handle"]:
                raise SystemExit(f"interface {e['ifname']} has a configured root qdisc "
                                 f"({root['kind']}); remove it or do not mark this host configurable")
    drops = [(e["ingress"], e["loss_pct"]) for e in egress if e["loss_pct"] > 0]
    _save(state_file, {"interfaces": [e["ifname"] for e in egress], "nft": bool(drops)})
    with _ipr() as ipr:
        for e in egress:
            d = shaping.Direction(e["rate_mbit"], e["loss_pct"], e["delay_ms"], e["jitter_ms"],
                                  e["queue_ms"])
            # A router host delays with netem: the delay line runs on local topologies only.
            shaping.install_qdiscs(ipr, socket.if_nametoindex(e["ifname"]), d, netem=True)
    if drops:
        subprocess.run(["nft", "-f", "-"], input=shaping.loss_ruleset(drops), text=True, check=True)
    return {"applied": egress, "restored_leftover": left}


def _save(state_file: str, doc: dict) -> None:
    os.makedirs(os.path.dirname(state_file) or ".", exist_ok=True)
    tmp = f"{state_file}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state_file)


def version() -> dict:
    """This install's version; importing the engine proves it loads here."""
    from importlib.metadata import version

    from harness import _engine  # noqa: F401
    return {"version": version("mptcp-bench"), "engine": True}


# command: (its arguments' names, what it does with them)
COMMANDS = {
    "version": ((), version),
    "pm-show": ((), show),
    "pm-apply": (("STATE_FILE", "JSON"), lambda state, spec: apply(state, json.loads(spec))),
    "pm-restore": (("STATE_FILE",), lambda state: {"restored": restore(state)}),
    "qdiscs": ((), qdiscs),
    "links-apply": (("STATE_FILE", "JSON"), lambda state, spec: links_apply(state, json.loads(spec))),
    "links-restore": (("STATE_FILE",), lambda state: {"restored": links_restore(state)}),
}


def usage() -> str:
    return "usage: python -m harness.agents.hostctl " + " | ".join(
        " ".join((cmd, *names)) for cmd, (names, _) in COMMANDS.items())


def main(argv: list[str]) -> int:
    cmd, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    names, run = COMMANDS.get(cmd, (None, None))
    if run is None or len(args) != len(names):
        sys.stderr.write(usage() + "\n")
        return 2
    json.dump(run(*args), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
