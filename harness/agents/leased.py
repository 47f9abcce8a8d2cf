"""A command under a lease, on a remote host: what the controller starts
over SSH (bench.hosts.ssh), so that nothing outlives it.

    python -m harness.agents.leased LEASE_S -- ARGV...

ARGV runs as a child in a session of its own, with this process's stdout
and stderr (the SSH channel) and a PR_SET_PDEATHSIG of SIGKILL.  The
controller renews the lease by writing a line to stdin at least every
LEASE_S seconds.  When stdin ends (the channel closed: the controller ended
it, died, or its connection was dropped) or no line came within LEASE_S
(the network is gone but the TCP connection not yet timed out), the
child's whole session is killed and this exits 137.  When the child ends
by itself, its CPU time goes to stderr as a last line {"leased": {"cpu_s": ...}}.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import threading

PR_SET_PDEATHSIG = 1
EXIT_LEASE_LOST = 137


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def holds(fd: int, lease_s: float) -> bool:
    """Wait for the next renewal on `fd`: False when none came in time or
    the stream ended."""
    ready, _, _ = select.select([fd], [], [], lease_s)
    return bool(ready) and bool(os.read(fd, 4096))


def watch(child: subprocess.Popen, fd: int, lease_s: float) -> None:
    while holds(fd, lease_s):
        pass
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os._exit(EXIT_LEASE_LOST)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: python -m harness.agents.leased LEASE_S -- ARGV...\n")
        return 2
    lease_s = float(argv[1])
    _die_with_parent()    # sshd's session process gone: so are we
    child = subprocess.Popen(argv[3:], stdin=subprocess.DEVNULL, start_new_session=True,
                             preexec_fn=_die_with_parent)
    threading.Thread(target=watch, args=(child, sys.stdin.fileno(), lease_s), daemon=True).start()
    _, status, rusage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    try:     # what the child left in its session goes with it
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    # The command's own CPU time, for drivers whose tools cannot report it.
    sys.stderr.write(json.dumps({"leased": {"cpu_s": rusage.ru_utime + rusage.ru_stime}}) + "\n")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
