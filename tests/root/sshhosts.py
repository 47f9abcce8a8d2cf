""""Hosts" for the hosts lane's tests: the namespaces of a two-link shaped
topology (harness.net.topology), each endpoint running Debian's sshd on a
management network of its own — a namespace `mpb-<owner>-mgmt` with a veth
to each host; the root namespace is not touched.  The controller
(`bench run --hosts`) runs inside the management namespace.

Host and user keys are made per use; every process started here is ended
by its PID, every namespace is registered with harness.ownership.
"""
from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.host import netns, sysctl
from harness.net import pathmanager
from harness.net.spec import LinkSpec, TopologySpec
from harness.net.topology import Topology

SSHD = "/usr/sbin/sshd"
MGMT_NET = "198.18.254"      # host i: .4i+2/30, the management side .4i+1/30
ROLES = ("client", "router", "server")
# What the hosts have before a run: the run applies its own endpoints and
# must put these back exactly.
PRIOR_LIMITS = (2, 1)
PRIOR_ENDPOINT = "198.18.253.1"    # on lo: an address no path uses


def require_tools() -> None:
    """What every hosts-lane test needs here, or a skip saying how to get it."""
    import installed
    installed.require(os.path.exists(SSHD), "needs Debian's openssh-server (make test-deps)")
    installed.require(importlib.util.find_spec("asyncssh") is not None,
                      "needs asyncssh: pip install 'mptcp-bench[hosts]' (make venv does)")


def mgmt_address(i: int, host: bool) -> str:
    return f"{MGMT_NET}.{4 * i + (2 if host else 1)}"


class SshHosts:
    def __init__(self, tmp: Path, rate_mbit: float | None = 50, links: int = 2, family: int = 4):
        self.tmp, self.family = tmp, family
        self.owner = f"hosts{secrets.token_hex(3)}"
        spec = TopologySpec(links=tuple(LinkSpec(rate_mbit, rate_mbit) for _ in range(links)),
                            endpoints=(), subflows_limit=PRIOR_LIMITS[0],
                            add_addr_accepted_limit=PRIOR_LIMITS[1], families=(family,))
        self.topo = Topology(spec, f"{netns.PREFIX}-{self.owner}")
        self.mgmt = f"{netns.PREFIX}-{self.owner}-mgmt"
        self.sshd: dict[str, subprocess.Popen] = {}

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> "SshHosts":
        self.topo.__enter__()
        try:
            self._mgmt()
            self._keys()
            for i, role in enumerate(ROLES):
                self._sshd(i, role)
            for role in ("client", "server"):
                netns.run(self.topo.ns(role), ["ip", "addr", "add", f"{PRIOR_ENDPOINT}/32", "dev", "lo"])
                pathmanager.configure(self.topo.ns(role), *PRIOR_LIMITS,
                                      [(PRIOR_ENDPOINT, 1, ("signal",))])
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.sshd.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if netns.exists(self.mgmt):
            netns.destroy([self.mgmt])
        self.topo.__exit__(None, None, None)

    def _mgmt(self) -> None:
        netns.create(self.mgmt)
        with netns.iproute(self.mgmt) as m:
            m.link("set", index=m.link_lookup(ifname="lo")[0], state="up")
        for i, role in enumerate(ROLES):
            ns = self.topo.ns(role)
            netns.run(self.mgmt, ["ip", "link", "add", f"m{i}", "type", "veth", "peer", "name",
                                  "mgmt0", "netns", netns.path(ns)])
            netns.run(self.mgmt, ["ip", "addr", "add", f"{mgmt_address(i, False)}/30", "dev", f"m{i}"])
            netns.run(self.mgmt, ["ip", "link", "set", f"m{i}", "up"])
            netns.run(ns, ["ip", "addr", "add", f"{mgmt_address(i, True)}/30", "dev", "mgmt0"])
            netns.run(ns, ["ip", "link", "set", "mgmt0", "up"])
            # Hosts reach each other through the management namespace: the
            # router host can then be a jump host to the others.
            netns.run(ns, ["ip", "route", "add", f"{MGMT_NET}.0/24", "via", mgmt_address(i, False)])
        sysctl.write(self.mgmt, {"net.ipv4.ip_forward": 1})

    def _keys(self) -> None:
        for name in ("host_key", "user_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(self.tmp / name)], check=True)
        (self.tmp / "authorized_keys").write_text((self.tmp / "user_key.pub").read_text())
        pub = (self.tmp / "host_key.pub").read_text().split()[:2]
        (self.tmp / "known_hosts").write_text("".join(
            f"{mgmt_address(i, True)} {' '.join(pub)}\n" for i in range(len(ROLES))))

    def _sshd(self, i: int, role: str) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)    # privilege separation (kept)
        config = self.tmp / f"sshd_{role}.conf"
        config.write_text("\n".join([
            f"ListenAddress {mgmt_address(i, True)}", "Port 22",
            f"HostKey {self.tmp / 'host_key'}", f"AuthorizedKeysFile {self.tmp / 'authorized_keys'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
            f"PidFile {self.tmp / f'sshd_{role}.pid'}", "Subsystem sftp internal-sftp",
            "LogLevel ERROR", "MaxStartups 50", ""]))
        self.sshd[role] = subprocess.Popen(
            ["ip", "netns", "exec", self.topo.ns(role), SSHD, "-D", "-f", str(config),
             "-E", str(self.tmp / f"sshd_{role}.log")], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _listening(self.topo.ns(role), mgmt_address(i, True)):
            if self.sshd[role].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd in {role} did not start: "
                                   f"{(self.tmp / f'sshd_{role}.log').read_text()[-500:]}")
            time.sleep(0.05)

    # ------------------------------------------------------------ use
    def inventory(self, install_dir: Path, router: bool = False) -> str:
        """The inventory of these hosts: client and server, and with
        `router` the router as a configurable host that shapes the paths."""
        text = []
        for i, role in ((0, "client"), (1, "router"), (2, "server")):
            if role == "router" and not router:
                continue
            text += [f"[hosts.{role}host]", f'role = "{role}"', f'install_dir = "{install_dir}"',
                     f'ssh = {{ host = "{mgmt_address(i, True)}", user = "root", '
                     f'key = "{self.tmp / "user_key"}", known_hosts = "{self.tmp / "known_hosts"}" }}',
                     *(["configurable = true"] if role == "router" else []), ""]
        for link in range(len(self.topo.spec.links)):
            text += ["[[paths]]", f'client_interface = "c{link}"',
                     f'client_address = "{self.topo.client_address(self.family, link)}"',
                     f'server_address = "{self.topo.server_address(self.family, link)}"',
                     *([f'router_up_interface = "rs{link}"', f'router_down_interface = "rc{link}"']
                       if router else []), ""]
        return "\n".join(text)

    def router_qdiscs(self) -> dict[str, list[str]]:
        """The root qdisc kinds of the router's path interfaces."""
        out = {}
        with netns.iproute(self.topo.ns("router")) as ipr:
            names = {l["index"]: l.get_attr("IFLA_IFNAME") for l in ipr.get_links()}
            for msg in ipr.get_qdiscs():
                name = names.get(msg["index"], "")
                if name.startswith(("rc", "rs")):
                    out.setdefault(name, []).append(msg.get_attr("TCA_KIND"))
        return out

    def controller(self, argv: list[str], **kw) -> list[str]:
        """argv run in the management namespace (as the controller)."""
        return netns.command(self.mgmt, argv)

    def workers(self) -> dict[int, str]:
        """Processes in the host namespaces other than the sshd listeners."""
        sshd = {p.pid for p in self.sshd.values()}
        listeners = set()
        for pid, _ in netns.pids_in(self.topo.namespaces()).items():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if pid in sshd or (cmd[0].endswith(b"sshd") and b"-D" in cmd):
                listeners.add(pid)
        return {pid: ns for pid, ns in netns.pids_in(self.topo.namespaces()).items()
                if pid not in listeners}

    def cut(self, role: str, down: bool = True) -> None:
        """Take the host's management link down (or up again)."""
        netns.run(self.mgmt, ["ip", "link", "set", f"m{ROLES.index(role)}", "down" if down else "up"])

    def pm(self, role: str) -> dict:
        return pathmanager.read_back(self.topo.ns(role))


def _listening(ns: str, address: str) -> bool:
    out = netns.run(ns, ["ss", "-Hltn", f"src {address}:22"])
    return bool(out.strip())



if __name__ == "__main__":     # by hand: python tests/root/sshhosts.py DIR
    d = Path(sys.argv[1])
    d.mkdir(parents=True, exist_ok=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})   # for sigwait
    with SshHosts(d) as hosts:
        (d / "inventory.toml").write_text(hosts.inventory(d / "install"))
        print(hosts.mgmt, flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
