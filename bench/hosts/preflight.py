"""Before anything runs on a host: what it is and whether the run can go
there, read with the host's own read-only tools (nothing is installed or
changed yet).  Every refusal is one sentence naming the host."""
from __future__ import annotations

import json
import re
import time

from bench.hosts.inventory import Host, Inventory
from bench.hosts.ssh import Connection, HostError

MIN_PYTHON = (3, 11)


def _out(conn: Connection, argv: list[str]) -> str | None:
    done = conn.run(argv, check=False, timeout=30)
    return done.stdout.strip() if done.exit_status == 0 else None


def _limits(text: str | None) -> dict:
    """`ip mptcp limits show`: "add_addr_accepted 0 subflows 2" (no JSON in iproute2 6.1)."""
    words = (text or "").split()
    pairs = dict(zip(words[::2], words[1::2]))
    return {k: int(v) for k, v in pairs.items() if v.isdigit()}


def clock(conn: Connection, samples: int = 3) -> dict:
    """The host's clock against this one's, from the quickest of a few
    round trips: recorded, never used in a figure."""
    best = None
    for _ in range(samples):
        t0 = time.time()
        remote = float(_out(conn, ["date", "+%s.%N"]) or "nan")
        t1 = time.time()
        if best is None or t1 - t0 < best[1] - best[0]:
            best = (t0, t1, remote)
    t0, t1, remote = best
    return {"skew_s": remote - (t0 + t1) / 2, "uncertainty_s": (t1 - t0) / 2}


def facts(conn: Connection) -> dict:
    host = conn.host
    version = _out(conn, [host.python, "--version"]) or ""
    m = re.search(r"(\d+)\.(\d+)", version)
    tools = {t: _out(conn, ["which", t]) is not None for t in ("iperf3", "mptcpize", "ethtool")}
    enabled = _out(conn, ["cat", "/proc/sys/net/mptcp/enabled"])
    return {
        "kernel": _out(conn, ["uname", "-r"]), "machine": _out(conn, ["uname", "-m"]),
        "uid": int(_out(conn, ["id", "-u"]) or -1), "home": _out(conn, ["printenv", "HOME"]),
        "cpus": int(_out(conn, ["nproc"]) or 0),
        "python": f"{m[1]}.{m[2]}" if m else None, "tools": tools,
        "mptcp_enabled": int(enabled) if enabled and enabled.isdigit() else None,
        "path_manager": {"endpoints": json.loads(_out(conn, ["ip", "-j", "mptcp", "endpoint",
                                                             "show"]) or "[]"),
                         "limits": _limits(_out(conn, ["ip", "mptcp", "limits", "show"]))},
        "iperf3": (_out(conn, ["iperf3", "--version"]) or "").splitlines()[:1] or [None],
        "addresses": json.loads(_out(conn, ["ip", "-j", "address", "show"]) or "[]"),
        "clock": clock(conn),
    }


def interface_of(f: dict, address: str) -> str | None:
    for link in f["addresses"]:
        if any(a.get("local") == address for a in link.get("addr_info", [])):
            return link["ifname"]
    return None


def nic(conn: Connection, f: dict, ifname: str) -> dict:
    """Driver and offloads of one interface, as far as the host's tools tell."""
    driver = _out(conn, ["readlink", f"/sys/class/net/{ifname}/device/driver"])
    link = json.loads(_out(conn, ["ip", "-j", "-d", "link", "show", "dev", ifname]) or "[{}]")[0]
    out: dict = {"driver": driver.rsplit("/", 1)[-1] if driver else None,
                 "kind": link.get("linkinfo", {}).get("info_kind"),   # veth, wireguard, ...
                 "mtu": link.get("mtu"), "gso_max_size": link.get("gso_max_size")}
    if f["tools"]["ethtool"]:
        info = _out(conn, ["ethtool", "-i", ifname]) or ""
        out["driver"] = out["driver"] or dict(_colon_pairs(info)).get("driver")
        out["offloads"] = {k: v.split()[0] for k, v in _colon_pairs(_out(conn, ["ethtool", "-k", ifname]) or "")
                           if v.split() and v.split()[0] in ("on", "off")}
    return out


def _colon_pairs(text: str):
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            yield key.strip(), value.strip()


def check_host(host: Host, f: dict, needs_mptcp: bool, changes: bool) -> None:
    """`changes`: the run sets this host's MPTCP endpoints (or, a router, its qdiscs)."""
    name = f"host {host.name!r} ({host.ssh.target()})"
    if host.role == "router" and not host.configurable:
        return       # reached and recorded; nothing runs there
    if f["python"] is None or tuple(map(int, f["python"].split("."))) < MIN_PYTHON:
        raise HostError(f"{name} has no {host.python} of version 3.11 or newer (found "
                        f"{f['python']}); install it or set `python` in the inventory")
    if needs_mptcp and host.role != "router" and f["mptcp_enabled"] != 1:
        raise HostError(f"{name} has net.mptcp.enabled = {f['mptcp_enabled']}: enable MPTCP "
                        "there (sysctl -w net.mptcp.enabled=1); the suite changes no sysctl")
    if changes and f["uid"] != 0:
        what = "shaping its links" if host.role == "router" else "setting the scenario's MPTCP endpoints"
        raise HostError(f"{name}: user {host.ssh.user} is not root, and {what} needs it; "
                        "connect as root" + ("" if host.role == "router" else " or pass --use-host-config"))


def check_paths(inv: Inventory, facts_by_role: dict) -> list[dict]:
    """Each path's addresses exist on their hosts; the interfaces they are on."""
    out = []
    for i, p in enumerate(inv.paths):
        found = {}
        for role, address, given in (("client", p.client_address, p.client_interface),
                                     ("server", p.server_address, p.server_interface)):
            ifname = interface_of(facts_by_role[role], address)
            host = inv.host(role)
            if ifname is None or (given and ifname != given):
                where = f" on {given}" if given else ""
                raise HostError(f"host {host.name!r} has no address {address}{where} (path {i}'s "
                                f"{role}_address); fix the inventory's [[paths]] entry {i}")
            found[role] = ifname
        out.append(found)
    return out


def check_iperf3(host: Host, f: dict) -> None:
    """The host's iperf3 does MPTCP the way the commands built here ask."""
    from harness.traffic.drivers import iperf3, iperf3_json
    name = f"host {host.name!r} ({host.ssh.target()})"
    version = iperf3_json.parse_version(f["iperf3"][0])
    if version is None:
        raise HostError(f"{name} has no iperf3, which the iperf3 driver needs: install it there "
                        "(Debian: iperf3) or drop --driver iperf3")
    method = iperf3_json.mptcp_method(version)
    if method != iperf3.mptcp_method():
        raise HostError(f"{name} has iperf3 {version[0]}.{version[1]}, which does MPTCP with "
                        f"{method}, and this machine's with {iperf3.mptcp_method()}: install "
                        "iperf3 of the same series on both")
    if method == "mptcpize" and not f["tools"]["mptcpize"]:
        raise HostError(f"{name} has no mptcpize, which iperf3 {version[0]}.{version[1]} needs "
                        "for MPTCP: install it there (Debian: mptcpize)")
