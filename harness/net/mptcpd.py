"""The userspace path manager, driven by mptcpd: switched on in one
namespace, with mptcpd running there on the project's own plugin
(harness/csrc/mptcpd/mpb_subflows.c), and stopped with the topology."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from harness import ownership
from harness.errors import CapabilityError, TopologyError
from harness.host import netns, sysctl

log = logging.getLogger(__name__)

# Unpacked from Debian's package by `make deps`, never installed (see the Makefile);
# MPTCP_BENCH_MPTCPD names another mptcpd (a newer release of your own) instead.
UNPACKED = Path(__file__).resolve().parents[2] / ".deps" / "mptcpd"
BINARY_ENV = "MPTCP_BENCH_MPTCPD"
PLUGIN = "mpb_subflows"
SOURCE = Path(__file__).resolve().parents[1] / "csrc" / "mptcpd" / f"{PLUGIN}.c"
LIBRARY = "libmptcpd.so.3"
READY_S = 10.0
STOP_S = 5.0


def userspace_sysctl() -> tuple[str, str] | None:
    """The sysctl that selects the userspace PM on this kernel: path_manager
    from 6.15, pm_type (5.19-6.14) before; None where there is neither."""
    if os.path.exists("/proc/sys/net/mptcp/available_path_managers"):
        managers = Path("/proc/sys/net/mptcp/available_path_managers").read_text().split()
        return ("net.mptcp.path_manager", "userspace") if "userspace" in managers else None
    if os.path.exists("/proc/sys/net/mptcp/pm_type"):
        return "net.mptcp.pm_type", "1"
    return None


def binary() -> Path:
    return Path(os.environ.get(BINARY_ENV) or UNPACKED / "usr" / "libexec" / "mptcpd")


def missing() -> str | None:
    """Why the userspace PM cannot run here, in one sentence; None if it can."""
    if userspace_sysctl() is None:
        return ("this kernel has no MPTCP userspace path manager (net.mptcp.pm_type came in "
                "5.19): use path_manager = \"kernel\" or boot a newer kernel")
    if not os.access(binary(), os.X_OK):
        if os.environ.get(BINARY_ENV):
            return f"mptcpd is missing ({binary()}, from {BINARY_ENV}): point {BINARY_ENV} at an mptcpd binary"
        return f"mptcpd is missing ({binary()}): run `make deps`, which unpacks Debian's mptcpd there"
    if shutil.which("gcc") is None:
        return "gcc is missing, which builds the project's mptcpd plugin: run `make deps`"
    return None


def plugin_dir() -> Path:
    """A directory holding only the built plugin (mptcpd refuses a plugin
    directory others may write), keyed by the source it was built from."""
    source = SOURCE.read_bytes()
    where = Path(ownership.RUNS_DIR) / "mptcpd" / hashlib.sha256(source).hexdigest()[:16]
    if (where / f"{PLUGIN}.so").exists():
        return where
    where.mkdir(parents=True, exist_ok=True, mode=0o755)
    os.chmod(where, 0o755)
    tmp = where / f".{PLUGIN}.{os.getpid()}.so"
    proc = subprocess.run(["gcc", "-O2", "-Wall", "-shared", "-fPIC", "-o", str(tmp), str(SOURCE),
                           f"-l:{LIBRARY}"], capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise CapabilityError(f"building the mptcpd plugin failed ({proc.stderr.strip()[-300:]}); "
                              "is mptcpd (its library libmptcpd3) installed? run `make deps`")
    os.replace(tmp, where / f"{PLUGIN}.so")
    return where


class Mptcpd:
    """mptcpd in namespace `ns`, opening one subflow from each of
    `subflows` (local addresses; those in `backup` marked backup) on every
    connection that namespace opens."""

    def __init__(self, ns: str, subflows: list[str], backup: list[str]):
        self.ns, self.subflows, self.backup = ns, list(subflows), list(backup)
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []
        self._ready = threading.Event()

    def argv(self, plugins: Path) -> list[str]:
        return [str(binary()), "--log=stderr", f"--plugin-dir={plugins}", f"--load-plugins={PLUGIN}",
                f"--path-manager={PLUGIN}", "--notify-flags=skip_link_local,skip_loopback"]

    def config(self) -> dict:
        """What this mptcpd runs with, for the run's metadata."""
        version = UNPACKED / "VERSION"
        return {"mptcpd": str(binary()) if os.environ.get(BINARY_ENV) else
                (version.read_text().strip() if version.exists() else None), "plugin": PLUGIN,
                "subflows": self.subflows, "backup": self.backup, "sysctl": "=".join(userspace_sysctl() or ())}

    def __enter__(self) -> "Mptcpd":
        reason = missing()
        if reason:
            raise CapabilityError(reason)
        key, value = userspace_sysctl()
        sysctl.write(self.ns, {key: value})
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "MPB_PM_SUBFLOWS": ",".join(self.subflows), "MPB_PM_BACKUP": ",".join(self.backup)}
        self.proc = subprocess.Popen(netns.command(self.ns, self.argv(plugin_dir())), env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain, name=f"mptcpd:{self.ns}", daemon=True).start()
        deadline = time.monotonic() + READY_S
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = " | ".join(self.log[-3:]) or "no output"
                self.__exit__(None, None, None)
                raise TopologyError(f"mptcpd did not start in {self.ns} ({tail}); "
                                    "see `mptcpd --help` and the run's log")
        log.info("mptcpd (pid %d) drives the userspace path manager in %s: subflows from %s",
                 self.proc.pid, self.ns, ", ".join(self.subflows) or "no address")
        return self

    def _drain(self) -> None:
        for line in self.proc.stderr:
            line = line.rstrip()
            self.log.append(line)
            if line.startswith(f"{PLUGIN}: ready"):
                self._ready.set()

    def __exit__(self, *exc) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
