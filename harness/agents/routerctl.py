"""A configurable router host's links, for harness.agents.hostctl: a
scenario's link model (tbf, netem or the host delay line's NFQUEUE rules,
nftables loss, TCPOPTSTRIP middlebox rules) applied on its interfaces, link
events (down, up, rate, strip_mptcp) during a trial, and everything put
back exactly.

Every change is written to the state file *before* it is made, so that
`links-restore` (a later run, or `bench clean --hosts` after a killed
controller) undoes it all: qdiscs removed (the kernel's default root
qdisc comes back), iptables rules deleted one by one, the nftables loss
table dropped, and an interface a link event took down brought back up
with the routes and IPv6 addresses the kernel dropped with it.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

from harness.net import shaping

TC_H_ROOT = 0xFFFFFFFF
MPTCP_OPTION = 30
RTPROT_KERNEL = 2
RT_TABLE_LOCAL = 255
IPTABLES = {4: "iptables", 6: "ip6tables"}
MAX_WAIT_S = 5.0     # an event's due time further off is a controller's mistake


def _ipr():
    from pyroute2 import IPRoute
    return IPRoute()


def _index(ifname: str) -> int:
    return socket.if_nametoindex(ifname)


def load(state_file: str) -> dict | None:
    try:
        with open(state_file) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def save(state_file: str, doc: dict) -> None:
    os.makedirs(os.path.dirname(state_file) or ".", exist_ok=True)
    tmp = f"{state_file}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state_file)


# ------------------------------------------------------------ rules
def strip_rules(ifnames: list[str], families: list[int]) -> list[list[str]]:
    """TCPOPTSTRIP of the MPTCP option on segments forwarded in from each
    interface (harness.net.middlebox's rule, on this host's names)."""
    return [[IPTABLES[f], "-t", "mangle", "-A", "FORWARD", "-i", i, "-p", "tcp", "-j",
             "TCPOPTSTRIP", "--strip-options", str(MPTCP_OPTION)] for f in families for i in ifnames]


def queue_rules(queues: list[dict], families: list[int]) -> list[list[str]]:
    """The host delay line's NFQUEUE rules (harness.net.delayline.rules)."""
    return [[IPTABLES[f], "-t", "mangle", "-A", "POSTROUTING", "-o", q["ifname"], "-j", "NFQUEUE",
             "--queue-num", str(q["num"])] for f in families for q in queues]


def _iptables(argv: list[str], op: str, check: bool = True) -> bool:
    done = subprocess.run([a if a != "-A" else op for a in argv], capture_output=True, text=True)
    if check and done.returncode:
        raise SystemExit(f"{' '.join(argv[:3])}: {done.stderr.strip()}")
    return done.returncode == 0


def _nft_tables() -> list[str] | None:
    done = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
    return done.stdout.splitlines() if done.returncode == 0 else None


def _drop_made_tables(before: list[str] | None, families) -> None:
    """iptables-nft makes the `mangle` table when it adds the first rule and
    keeps it, empty, when the rule goes: drop it when the run made it and no
    rule is left in it."""
    if before is None:
        return
    for f in families:
        family = {4: "ip", 6: "ip6"}[f]
        name = f"table {family} mangle"
        if name in before or name not in (_nft_tables() or []):
            continue
        rules = subprocess.run([f"{IPTABLES[f]}-save", "-t", "mangle"], capture_output=True, text=True)
        if rules.returncode == 0 and not any(l.startswith("-A") for l in rules.stdout.splitlines()):
            subprocess.run(["nft", "delete", "table", family, "mangle"], capture_output=True)


# ------------------------------------------------------------ qdiscs
def _root_qdisc(ipr, index: int) -> dict | None:
    for msg in ipr.get_qdiscs(index=index):
        if msg["parent"] == TC_H_ROOT:
            return {"kind": msg.get_attr("TCA_KIND"), "handle": msg["handle"]}
    return None


def _unshape(ipr, ifname: str) -> None:
    try:      # the kernel puts its default root qdisc back
        ipr.tc("del", index=_index(ifname), root=True)
    except Exception:      # not shaped, or the interface went
        pass


def _shape(ipr, e: dict, netem: bool) -> None:
    d = shaping.Direction(e["rate_mbit"], e["loss_pct"], e["delay_ms"], e["jitter_ms"], e["queue_ms"])
    shaping.install_qdiscs(ipr, _index(e["ifname"]), d, netem=netem)


def qdiscs() -> dict:
    """Every interface's qdiscs as the kernel reports them."""
    with _ipr() as ipr:
        names = {l["index"]: l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}
        out: dict = {}
        for msg in ipr.get_qdiscs():
            out.setdefault(names.get(msg["index"], str(msg["index"])), []).append(
                shaping.describe_qdisc(msg))
    return out


# ------------------------------------------------------------ link state
def _routes_via(ipr, index: int) -> list[dict]:
    """The routes over an interface that the kernel deletes when it goes
    down and does not put back when it comes up (not its own prefixes)."""
    out = []
    for m in ipr.get_routes():
        table = m.get_attr("RTA_TABLE") or m["table"]
        if m.get_attr("RTA_OIF") != index or m["proto"] == RTPROT_KERNEL or table == RT_TABLE_LOCAL:
            continue
        out.append({"family": m["family"], "dst": m.get_attr("RTA_DST"), "dst_len": m["dst_len"],
                    "gateway": m.get_attr("RTA_GATEWAY"), "table": table,
                    "priority": m.get_attr("RTA_PRIORITY"), "proto": m["proto"],
                    "scope": m["scope"], "type": m["type"]})
    return out


def _addresses6(ipr, index: int) -> list[dict]:
    """Global IPv6 addresses: the kernel flushes them on down (keep_addr_on_down 0)."""
    return [{"address": a.get_attr("IFA_ADDRESS"), "prefixlen": a["prefixlen"]}
            for a in ipr.get_addr(family=socket.AF_INET6, index=index) if a["scope"] == 0]


def _down_state(ipr, ifname: str) -> dict:
    index = _index(ifname)
    return {"routes": _routes_via(ipr, index), "addresses6": _addresses6(ipr, index)}


def _bring_up(ipr, ifname: str, saved: dict) -> None:
    index = _index(ifname)
    ipr.link("set", index=index, state="up")
    have = {a["address"] for a in _addresses6(ipr, index)}
    for a in saved["addresses6"]:
        if a["address"] not in have:
            ipr.addr("add", index=index, address=a["address"], prefixlen=a["prefixlen"])
    for r in saved["routes"]:
        kw = {k: v for k, v in r.items() if v is not None}
        ipr.route("replace", oif=index, **kw)


# ------------------------------------------------------------ scenario
def links_apply(state_file: str, config: dict) -> dict:
    """The scenario's link model: {"egress": [{"ifname", "ingress",
    "rate_mbit", "loss_pct", "delay_ms", "jitter_ms", "queue_ms"}], "netem":
    delay with netem, "queues": [{"num", "ifname"}] for the host delay line
    (already bound to its queues), "strip": [ifname] (a middlebox),
    "families": [4|6]}.  An interface with a root qdisc someone configured
    (a non-zero handle) is refused: it could not be put back exactly."""
    left = links_restore(state_file)
    egress, families = config["egress"], config.get("families", [4])
    with _ipr() as ipr:
        for e in egress:
            root = _root_qdisc(ipr, _index(e["ifname"]))
            if root and root["handle"]:
                raise SystemExit(f"interface {e['ifname']} has a configured root qdisc "
                                 f"({root['kind']}); remove it or do not mark this host configurable")
    drops = [(e["ingress"], e["loss_pct"]) for e in egress if e["loss_pct"] > 0]
    rules = (queue_rules(config.get("queues", []), families)
             + strip_rules(config.get("strip", []), families))
    state = {"interfaces": [e["ifname"] for e in egress], "nft": bool(drops),
             "iptables": rules, "down": {}, "nft_tables": _nft_tables()}
    save(state_file, state)
    with _ipr() as ipr:
        for e in egress:
            _shape(ipr, e, config.get("netem", True))
    if drops:
        subprocess.run(["nft", "-f", "-"], input=shaping.loss_ruleset(drops), text=True, check=True)
    for argv in rules:
        _iptables(argv, "-A")
    return {"applied": egress, "rules": rules, "restored_leftover": left}


def links_restore(state_file: str) -> dict | None:
    """Undo what links-apply and link events changed, from the state file."""
    saved = load(state_file)
    if saved is None:
        return None
    with _ipr() as ipr:
        for ifname, down in saved.get("down", {}).items():
            _bring_up(ipr, ifname, down)
    for argv in saved.get("iptables", []):
        _iptables(argv, "-D", check=False)       # absent: never added
    _drop_made_tables(saved.get("nft_tables"), families=(4, 6))
    with _ipr() as ipr:
        for ifname in saved["interfaces"]:
            _unshape(ipr, ifname)
    if saved["nft"]:
        subprocess.run(["nft", "delete", "table", "inet", shaping.NFT_TABLE], capture_output=True)
    os.unlink(state_file)
    return saved


# ------------------------------------------------------------ events
def link_event(state_file: str, ev: dict) -> dict:
    """One link event on this router, recorded in the state file first:
    {"action": "down" | "up" | "rate" | "strip_on" | "strip_off" | "reset",
    "ifnames": [...], "egress": [...] (rate, reset: the qdiscs to put on),
    "netem": bool, "strip": [...] (reset: strip rules to take off),
    "families": [...], "due_ns": when, on this host's CLOCK_MONOTONIC (waited
    for, at most MAX_WAIT_S)}.  Returns this host's CLOCK_MONOTONIC when it
    was applied (the controller translates it to the receiver's clock)."""
    state = load(state_file)
    if state is None:
        raise SystemExit("no link model applied on this router (links-apply first)")
    action, families = ev["action"], ev.get("families", [4])
    def due() -> int:
        """Called by each event right before its change: what it saves comes first."""
        wait_s = ((ev.get("due_ns") or 0) - time.monotonic_ns()) / 1e9
        if wait_s > 0:
            time.sleep(min(wait_s, MAX_WAIT_S))
        return time.monotonic_ns()
    at_ns = _EVENTS[action](state_file, state, ev, families, due)
    return {"at_ns": at_ns, "done_ns": time.monotonic_ns()}


def _down(state_file, state, ev, families, due) -> int:
    with _ipr() as ipr:
        for ifname in ev["ifnames"]:
            if ifname not in state["down"]:
                state["down"][ifname] = _down_state(ipr, ifname)
        save(state_file, state)
        at_ns = due()
        for ifname in ev["ifnames"]:
            ipr.link("set", index=_index(ifname), state="down")
    return at_ns


def _up(state_file, state, ev, families, due=time.monotonic_ns) -> int:
    at_ns = due()
    with _ipr() as ipr:
        for ifname in ev["ifnames"]:
            if ifname in state["down"]:
                _bring_up(ipr, ifname, state["down"].pop(ifname))
    save(state_file, state)
    return at_ns


def _reshape(state_file, state, ev, families, due) -> int:
    for e in ev["egress"]:
        if e["ifname"] not in state["interfaces"]:
            state["interfaces"].append(e["ifname"])
    save(state_file, state)
    at_ns = due()
    with _ipr() as ipr:
        for e in ev["egress"]:
            _unshape(ipr, e["ifname"])
            _shape(ipr, e, ev.get("netem", True))
    return at_ns


def _strip(state_file, state, ev, families, due=time.monotonic_ns, on: bool = True) -> int:
    rules = strip_rules(ev["ifnames"], families)
    if on:
        state["iptables"] += rules
        save(state_file, state)
    at_ns = due()
    for argv in rules:
        _iptables(argv, "-A" if on else "-D", check=on)
        if not on and argv in state["iptables"]:
            state["iptables"].remove(argv)
    if not on:
        save(state_file, state)
    return at_ns


def _reset(state_file, state, ev, families, due) -> int:
    """A link as its scenario has it: up, its qdiscs, no event's strip rule."""
    at_ns = _up(state_file, state, ev, families, due)
    _strip(state_file, state, {"ifnames": ev.get("strip", [])}, families, on=False)
    state["interfaces"] = sorted({*state["interfaces"], *ev["ifnames"]})
    save(state_file, state)
    with _ipr() as ipr:
        for ifname in ev["ifnames"]:
            _unshape(ipr, ifname)
        for e in ev["egress"]:
            _shape(ipr, e, ev.get("netem", True))
    return at_ns


_EVENTS = {"down": _down, "up": _up, "rate": _reshape, "strip_on": _strip,
           "strip_off": lambda *a: _strip(*a, on=False), "reset": _reset}


def state_of_links() -> dict:
    """What a test (or a reader) compares before and after: every
    interface's state, qdiscs, iptables mangle rules and nftables tables."""
    with _ipr() as ipr:
        links = {l.get_attr("IFLA_IFNAME"): l.get_attr("IFLA_OPERSTATE") for l in ipr.get_links()}
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    rules = {t: subprocess.run([f"{t}-save", "-t", "mangle"], capture_output=True, text=True).stdout
             for t in IPTABLES.values()}
    # chain lines carry packet counters ("[12:3456]"): kept without them
    return {"links": links, "qdiscs": qdiscs(), "nft_tables": sorted(tables.split("\n")),
            "iptables": {t: [l.split(" [")[0] for l in r.splitlines() if l[:1] in ("-", ":")]
                         for t, r in rules.items()}}


def delayline_stats(pid: int) -> dict:
    """Ask the host delay line (harness.agents.delayhost, PID) for its
    counters, which it writes to its own stdout; the kernel's per-queue
    counters and its CPU time, read here, are the answer."""
    from harness.net import delayline
    cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
    if b"harness.agents.delayhost" not in cmdline:
        raise SystemExit(f"process {pid} is not the delay line")
    os.kill(pid, signal.SIGUSR1)
    return {"kernel": delayline.kernel_queues(), "cpu_s": delayline.process_cpu_s(pid)}
