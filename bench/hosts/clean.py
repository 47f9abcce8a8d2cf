"""`bench clean --hosts INVENTORY`: what a killed run left on its hosts.
Its workers end by themselves when their lease lapses (harness.agents.leased);
this restores the MPTCP endpoints (and a router's link shaping) it
changed, from the state file each install keeps while a scenario's are
applied, and ends any worker
of ours still running (by PID, found by its install's interpreter path)."""
from __future__ import annotations

import shlex
from pathlib import Path

from bench.hosts import inventory
from bench.hosts.lane import ENDPOINT_ROLES, LINKS_STATE, PM_STATE
from bench.hosts.ssh import Connection, Loop


def _home(conn: Connection) -> str:
    return conn.run(["printenv", "HOME"]).stdout.strip()


def clean(path: Path) -> list[str]:
    inv = inventory.load(path)
    loop = Loop()
    lines: list[str] = []
    try:
        for role in ENDPOINT_ROLES + (("router",) if inv.shaping_host() else ()):
            host = inv.host(role)
            conn = Connection(loop, host).open()
            try:
                lines += _clean_host(conn, _home(conn))
            finally:
                conn.close()
    finally:
        loop.close()
    return lines


def _clean_host(conn: Connection, home: str) -> list[str]:
    host = conn.host
    base = home + host.install_dir[1:] if host.install_dir.startswith("~/") else host.install_dir
    found = conn.run(["sh", "-c", f"ls -d {shlex.quote(base)}/*/{shlex.quote(host.name)} "
                     "2>/dev/null || true"]).stdout.split()
    lines = []
    for d in found:
        pids = conn.run(["pgrep", "-f", f"^{d}/venv/bin/python -m harness\\."],
                        check=False).stdout.split()
        if pids:
            conn.run(["kill", "-KILL", *pids], check=False)
            lines.append(f"host {host.name}: ended worker process(es) {' '.join(pids)}")
        for state, command, what in ((PM_STATE, "pm-restore", "MPTCP endpoints"),
                                     (LINKS_STATE, "links-restore", "link shaping")):
            if conn.run(["test", "-e", f"{d}/{state}"], check=False).exit_status == 0:
                conn.run([f"{d}/venv/bin/python", "-m", "harness.agents.hostctl", command, f"{d}/{state}"])
                lines.append(f"host {host.name}: restored the {what} a killed run changed")
    return lines or [f"host {host.name}: nothing left"]
