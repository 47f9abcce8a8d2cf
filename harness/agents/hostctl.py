"""The MPTCP path manager of the host it runs on, for a controller that
reaches it over SSH (bench.hosts): show, apply a scenario's endpoints and
limits, and restore exactly what was there.

    python -m harness.agents.hostctl version
    python -m harness.agents.hostctl pm-show
    python -m harness.agents.hostctl pm-apply STATE_FILE '{"limits": {...}, "endpoints": [...]}'
    python -m harness.agents.hostctl pm-restore STATE_FILE
    python -m harness.agents.hostctl links-apply STATE_FILE '{"egress": [...]}'   (a router)
    python -m harness.agents.hostctl links-restore STATE_FILE
    python -m harness.agents.hostctl link-event STATE_FILE '{"action": ..., "ifnames": [...]}'
    python -m harness.agents.hostctl router-state | delayline-stats PID

pm-apply first saves the current configuration to STATE_FILE; pm-restore
puts it back and removes the file.  A STATE_FILE left by a controller that
died is restored before anything new is applied, so a later run (or
`bench clean --hosts`) undoes what a killed one changed.  links-apply and
links-restore do the same for a configurable router's links (tbf, netem or
the host delay line's NFQUEUE rules, an nftables loss table, a middlebox's
TCPOPTSTRIP rules), and link-event changes them during a trial, saved
first in the same state file (harness.agents.routerctl).  Output: one JSON
document on stdout.
"""
from __future__ import annotations

import json
import os
import socket
import sys

from harness.agents import routerctl
from harness.net import pathmanager


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


def restore(state_file: str) -> dict | None:
    saved = routerctl.load(state_file)   # what an apply saved, or None
    if saved is None:
        return None
    _set(saved)
    os.unlink(state_file)
    return saved


def apply(state_file: str, config: dict) -> dict:
    left = restore(state_file)
    saved = show()
    routerctl.save(state_file, saved)
    _set(config)
    return {"saved": saved, "applied": show(), "restored_leftover": left}


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
    "qdiscs": ((), routerctl.qdiscs),
    "links-apply": (("STATE_FILE", "JSON"),
                    lambda state, spec: routerctl.links_apply(state, json.loads(spec))),
    "links-restore": (("STATE_FILE",), lambda state: {"restored": routerctl.links_restore(state)}),
    "link-event": (("STATE_FILE", "JSON"),
                   lambda state, ev: routerctl.link_event(state, json.loads(ev))),
    "router-state": ((), lambda: routerctl.state_of_links()),
    "delayline-stats": (("PID",), lambda pid: routerctl.delayline_stats(int(pid))),
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
