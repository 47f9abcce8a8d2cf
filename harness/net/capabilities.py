"""What this kernel and machine offer, found by trying (in a throwaway
namespace) rather than by guessing from versions: the kernel a program runs
on may differ from the one it was built for.
"""
from __future__ import annotations

import errno
import functools
import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass

from harness import ownership
from harness.errors import CapabilityError
from harness.host import netns, sysinfo
from harness.host.sockinfo import IPPROTO_MPTCP
from harness.net import delayline, middlebox, mirror, mptcpd
from harness.net.spec import DelayBackend, DelayBackendRequest

QDISCS = ("tbf", "htb", "netem")
DELAY_ORDER = ("netem", "host")    # auto's preference


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None          # None: informational
    detail: str
    fix: str = ""


def _mptcp_socket_check() -> Check:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP).close()
        return Check("mptcp", True, "socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) works")
    except OSError as exc:
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        if exc.errno == errno.ENOPROTOOPT:
            fix = "MPTCP is disabled by net.mptcp.enabled=0; set it to 1 in the namespaces used"
        else:
            fix = ("this kernel has no MPTCP; boot a kernel built with CONFIG_MPTCP=y "
                   "(Linux 5.6 or newer) to benchmark MPTCP")
        return Check("mptcp", False, f"socket(..., IPPROTO_MPTCP) failed: {name}", fix)


def _qdisc_check(ns: str, kind: str) -> Check:
    from pyroute2.netlink.exceptions import NetlinkError

    args = {"tbf": dict(rate="10mbit", burst=16384, latency="20ms"),
            "htb": dict(default=0), "netem": dict(delay=1000)}[kind]
    with netns.iproute(ns) as ipr:
        lo = ipr.link_lookup(ifname="lo")[0]
        try:
            ipr.tc("add", kind, index=lo, handle="1:", **args)
            ipr.tc("del", index=lo, root=True)
            return Check(kind, True, f"qdisc {kind} can be added")
        except NetlinkError as exc:
            missing = exc.code == errno.ENOENT
            return Check(kind, False,
                         f"qdisc {kind}: {'not in this kernel' if missing else exc}",
                         f"this kernel lacks sch_{kind}" + (
                             "; the host delay line serves delayed scenarios instead, and "
                             "--kernel IMAGE runs them with netem in a VM" if kind == "netem" else ""))


def _nft_check(ns: str) -> Check:
    if not shutil.which("nft"):
        return Check("nftables", False, "nft not found", "install the Debian package nftables")
    try:
        netns.run(ns, ["nft", "add", "table", "inet", "mpb_probe"])
        return Check("nftables", True, "nft can add tables")
    except subprocess.CalledProcessError as exc:
        return Check("nftables", False, f"nft failed: {exc.stderr.strip()}",
                     "this kernel lacks nf_tables; lossy scenarios need it")


def _nft_mptcp_check(ns: str) -> Check:
    """nftables matching the MPTCP option's subtype (the blackhole scenarios'
    SYN drops): nft 1.0 and the kernel's nft_exthdr."""
    if not shutil.which("nft"):
        return Check("nft-mptcp", False, "nft not found", "install the Debian package nftables")
    try:
        netns.run(ns, ["nft", "-f", "-"], input=middlebox.syn_drop_ruleset(((0, "mp_capable"),)))
        return Check("nft-mptcp", True, "nft matches the MPTCP option's subtype (SYN-drop middleboxes)")
    except subprocess.CalledProcessError as exc:
        return Check("nft-mptcp", False, f"nft cannot match MPTCP subtypes: {exc.stderr.strip()}",
                     "SYN-drop middleboxes need nftables >= 1.0 and nft_exthdr")


def _tcpoptstrip_check(ns: str) -> Check:
    if not shutil.which("iptables"):
        return Check("tcpoptstrip", False, "iptables not found", "install the Debian package iptables")
    try:
        netns.run(ns, ["iptables", "-t", "mangle", "-A", "FORWARD", "-p", "tcp", "-j",
                       "TCPOPTSTRIP", "--strip-options", "30"])
        return Check("tcpoptstrip", True, "iptables TCPOPTSTRIP works (middlebox scenarios)")
    except subprocess.CalledProcessError as exc:
        return Check("tcpoptstrip", False, f"iptables TCPOPTSTRIP failed: {exc.stderr.strip()}",
                     "this kernel lacks xt_TCPOPTSTRIP; middlebox scenarios need it")


def _mirror_check(ns: str) -> Check:
    """tc mirred port mirroring (the on-path attacker's copy of a link),
    and scapy, which builds the attacker's packets."""
    import importlib.util
    if importlib.util.find_spec("scapy") is None:
        return Check("tc-mirred", False, "scapy is not installed (the attacker's packet builder)",
                     "run `make venv`: it installs the lock file, scapy included")
    try:
        with netns.iproute(ns) as ipr:
            ipr.link("add", ifname="mpbm0", kind="veth", peer="mpbm1")
            mirror.install(ipr, ["mpbm0"], "mpbm1")
        return Check("tc-mirred", True, "tc mirred mirrors a link to the on-path attacker")
    except Exception as exc:      # NetlinkError: the kernel lacks cls_u32 or act_mirred
        return Check("tc-mirred", False, f"tc mirred failed: {exc}",
                     "this kernel lacks cls_u32/act_mirred; on-path attack scenarios need them")


def _laminar_check() -> Check:
    """The `laminar` endpoint flag came in 6.18: the kernel's version says
    whether it is there (a flag bit is stored as given, so adding one proves
    nothing)."""
    release = os.uname().release
    major_minor = tuple(int(x) for x in re.findall(r"\d+", release)[:2])
    ok = major_minor >= (6, 18)
    return Check("pm-laminar", ok, f"kernel {release}" + ("" if ok else " has no laminar endpoints"),
                 "" if ok else "the laminar endpoint flag needs Linux 6.18 or later")


def _delayline_check(ns: str) -> Check:
    built, why = delayline.available()
    if not built:
        return Check("delay:host", False, "the host delay line is not built", why)
    if not shutil.which("iptables"):
        return Check("delay:host", False, "iptables not found", "install the Debian package iptables")
    try:
        netns.run(ns, ["iptables", "-t", "mangle", "-A", "POSTROUTING", "-o", "lo", "-j", "NFQUEUE",
                       "--queue-num", "0"])
    except subprocess.CalledProcessError as exc:
        return Check("delay:host", False, f"iptables NFQUEUE failed: {exc.stderr.strip()}",
                     "this kernel lacks xt_NFQUEUE/nfnetlink_queue; delayed scenarios need it "
                     "or netem")
    return Check("delay:host", True, "the host delay line (iptables NFQUEUE, harness._delayline) "
                 f"works, up to {delayline.CEILING_MBIT} Mbit/s per delayed link")


def _delay_checks(checks: dict[str, Check]) -> None:
    """"delay:netem" and "delay:host" per backend, and "delay": any of them."""
    netem = checks.get("netem")
    checks["delay:netem"] = Check("delay:netem", netem.ok, netem.detail, netem.fix) if netem else \
        Check("delay:netem", False, "not probed")
    ok = [b for b in DELAY_ORDER if checks.get(f"delay:{b}") and checks[f"delay:{b}"].ok]
    checks["delay"] = Check("delay", bool(ok), f"delay backends: {', '.join(ok) or 'none'}"
                            + (f" (auto uses {ok[0]})" if ok else ""),
                            "delayed scenarios need netem or the host delay line: see "
                            "`python -m bench doctor`")


def delay_backend(requested: DelayBackendRequest = "auto",
                  checks: dict[str, Check] | None = None) -> DelayBackend:
    """A scenario's request resolved (preflight does it once per run): the
    backend asked for, or for auto netem when the kernel has it (cheaper),
    else the host delay line."""
    checks = checks or _cached_probe()
    if requested == "auto":
        require(checks, {"delay"}, "a delayed link")
        return next(b for b in DELAY_ORDER if checks[f"delay:{b}"].ok)
    require(checks, {f"delay:{requested}"}, f"a delayed link on the {requested} backend")
    return requested


@functools.lru_cache(maxsize=1)
def _cached_probe() -> dict[str, Check]:
    return probe()


@functools.lru_cache(maxsize=None)
def tool_version(tool: str) -> str | None:
    """The first line `tool --version` prints, or None when it is not
    installed; asked once per process (preflight, metadata and the iperf3
    driver all want it)."""
    if not shutil.which(tool):
        return None
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else None


def _namespace_checks() -> dict[str, Check]:
    owner = f"probe{os.getpid()}"
    name = f"{netns.PREFIX}-{owner}-probe"
    checks: dict[str, Check] = {}
    with ownership.owning(owner, purpose="capability probe"):
        try:
            netns.create(name)
            checks["netns"] = Check("netns", True, "network namespaces can be created")
            checks["mptcp"] = netns.call_in(name, _mptcp_socket_check)
            for kind in QDISCS:
                checks[kind] = _qdisc_check(name, kind)
            checks["nftables"] = _nft_check(name)
            checks["tcpoptstrip"] = _tcpoptstrip_check(name)
            checks["nft-mptcp"] = _nft_mptcp_check(name)
            checks["delay:host"] = _delayline_check(name)
            checks["tc-mirred"] = _mirror_check(name)
        except OSError as exc:
            checks["netns"] = Check("netns", False, f"cannot create a namespace: {exc}",
                                    "run as root on a kernel with CONFIG_NET_NS")
        finally:
            netns.remove(name)
    return checks


def probe() -> dict[str, Check]:
    """Every capability, keyed by name.  Needs root for the namespace part."""
    checks: dict[str, Check] = {}
    root = os.geteuid() == 0
    checks["root"] = Check("root", root, "running as root" if root else "not root",
                           "run as root: benchmarks create network namespaces")
    if root:
        checks.update(_namespace_checks())
        _delay_checks(checks)
    enabled = sysinfo.read_text("/proc/sys/net/mptcp/enabled")
    checks["mptcp_root_ns"] = Check(
        "mptcp_root_ns", None, f"net.mptcp.enabled={enabled} in the root namespace "
        "(runs set it to 1 in their own namespaces)" if enabled is not None else
        "no /proc/sys/net/mptcp: the kernel has no MPTCP")
    checks["path_managers"] = Check("path_managers", None, sysinfo.read_text(
        "/proc/sys/net/mptcp/available_path_managers") or "no available_path_managers "
        "(before 6.15: net.mptcp.pm_type chooses the in-kernel or the userspace one)")
    why = mptcpd.missing()
    detail, _, fix = (why or "").partition(": ")
    checks["pm-userspace"] = Check("pm-userspace", why is None, detail or "the userspace path "
                                   "manager, driven by mptcpd with the project's plugin", fix)
    checks["pm-laminar"] = _laminar_check()
    checks["schedulers"] = Check("schedulers", None, sysinfo.read_text(
        "/proc/sys/net/mptcp/available_schedulers") or "default")
    for tool in ("iperf3", "mptcpize"):
        version = tool_version(tool)
        checks[tool] = Check(tool, version is not None, version or "not installed",
                             f"install the Debian package {tool}")
    cpus = sorted(os.sched_getaffinity(0))
    checks["cpus"] = Check("cpus", None, f"{len(cpus)} usable CPU(s): {cpus}")
    return checks


# What a kernel matrix compares: the kernel's MPTCP features, not the machine's tools.
FEATURES = ("mptcp", "pm-userspace", "pm-laminar", "path_managers", "schedulers", "netem",
            "nft-mptcp", "tcpoptstrip")


def features(checks: dict[str, Check]) -> dict:
    """The kernel's MPTCP features as probed: per feature `ok` (None for a
    listing) and `detail`; and `sysctls`, the net.mptcp names it has."""
    out = {name: {"ok": checks[name].ok, "detail": checks[name].detail}
           for name in FEATURES if name in checks}
    try:
        out["sysctls"] = sorted(f"net.mptcp.{n}" for n in os.listdir("/proc/sys/net/mptcp"))
    except OSError:
        out["sysctls"] = []
    return out


def require(checks: dict[str, Check], needs: set[str], what: str) -> None:
    """Raise CapabilityError naming the first missing need of `what`."""
    order = ["root", "netns", "mptcp", *sorted(needs - {"root", "netns", "mptcp"})]
    for need in order:
        if need not in needs:
            continue
        check = checks.get(need)
        if check is None or check.ok is False:
            fix = check.fix if check else "run `python -m bench doctor` as root to see why"
            detail = check.detail if check else "not probed"
            raise CapabilityError(f"{what} needs {need} ({detail}): {fix}")
