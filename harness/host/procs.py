"""Worker processes seen from the orchestrator: start, read their JSON lines
with deadlines, and always end them."""
from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import time

from harness.errors import WorkerError

log = logging.getLogger(__name__)

STDERR_KEEP = 4000  # characters of a worker's stderr kept for the record


def decode(line: bytes) -> dict:
    """One line a worker wrote: its JSON message, or a garbage event quoting it."""
    try:
        return json.loads(line)
    except ValueError:
        return {"event": "garbage", "line": line[:200].decode(errors="replace")}


class MessageReader:
    """messages() for a worker whose message(deadline) reads queued lines."""

    def messages(self) -> list[dict]:
        """Every message already received, without waiting."""
        out = []
        while self.pending():
            msg = self.message(time.monotonic())
            if msg is not None:
                out.append(msg)
        return out


class Worker(MessageReader):
    """One worker process.  Messages are the JSON lines it writes to stdout;
    stderr is collected for error reports.  Use as a context manager: leaving
    it kills the process if it is still running."""

    def __init__(self, argv: list[str], label: str, stdin: bool = False):
        self.label = label
        try:
            # A new session: a Ctrl-C in the terminal reaches the
            # orchestrator only, which then ends its workers in order.
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                         stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise WorkerError(f"cannot start the {label} ({argv[0]}): {exc.strerror}") from None
        log.info("started %s, pid %d", label, self.proc.pid)
        self._sel = selectors.DefaultSelector()
        self._partial = b""       # stdout after its last newline
        for f in (self.proc.stdout, self.proc.stderr):
            os.set_blocking(f.fileno(), False)
            self._sel.register(f, selectors.EVENT_READ)
        self._lines: list[bytes] = []
        self.stderr = b""
        self.rusage = None        # resource usage of the process once reaped

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()

    def _pump(self, timeout: float) -> bool:
        """Read what is available; False once both pipes are closed."""
        if not self._sel.get_map():
            return False
        for key, _ in self._sel.select(timeout):
            f = key.fileobj
            chunk = os.read(f.fileno(), 65536)
            if not chunk:
                self._sel.unregister(f)
                continue
            if f is self.proc.stderr:
                self.stderr = (self.stderr + chunk)[-STDERR_KEEP:]
                continue
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            self._lines.extend(lines)
        return True

    def message(self, deadline: float) -> dict | None:
        """The next JSON line, or None if the worker ended or the deadline
        passed first."""
        while not self._lines:
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(min(left, 0.5)) and not self._lines:
                return None
        return decode(self._lines.pop(0))

    def pending(self) -> bool:
        return bool(self._lines)

    def send(self, msg: dict) -> None:
        """One JSON line to a worker started with stdin=True."""
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def wait(self, deadline: float) -> int | None:
        """Drain output until the process exits; its return code, or None
        if the deadline passed.  A return code can come before the pipes
        are empty: call again to read the rest."""
        while time.monotonic() < deadline:
            if not self._pump(min(0.2, max(0.0, deadline - time.monotonic()))):
                while self._reap() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                return self.proc.returncode
        return self._reap()

    def _reap(self) -> int | None:
        """Collect the exit status without blocking.  wait4 rather than
        Popen.wait: its rusage is the process's own CPU time, for drivers
        whose tools cannot report it over exactly the same span."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
        except ChildProcessError:      # reaped elsewhere (Popen internals)
            return self.proc.poll()
        if pid == 0:
            return None
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.rusage = rusage
        return self.proc.returncode

    def stderr_text(self) -> str:
        return self.stderr.decode(errors="replace").strip()

    def stdout_text(self) -> str:
        """Everything written to stdout that was not taken as a message
        (for tools whose output is one document, not JSON lines)."""
        return b"\n".join([*self._lines, self._partial]).decode(errors="replace")

    def exit_summary(self) -> str:
        """"exited with status N: <its last line of stderr, else of stdout>"."""
        tail = (self.stderr_text() or self.stdout_text()).strip().splitlines()[-1:]
        return f"exited with status {self.proc.returncode}: {tail[0] if tail else 'no output'}"

    def cpu_s(self) -> float | None:
        """User + system CPU seconds of the reaped process, or None."""
        if self.rusage is None:
            return None
        return self.rusage.ru_utime + self.rusage.ru_stime

    def kill(self) -> None:
        if self._reap() is None:
            log.info("ending %s, pid %d", self.label, self.proc.pid)
            for sig, grace in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
                try:
                    self.proc.send_signal(sig)
                    self.proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._sel.close()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


def python_module(module: str, *args: str) -> list[str]:
    """argv running `module` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def dying_with_parent(argv: list[str], sig: str = "KILL") -> list[str]:
    """argv that the kernel signals (`sig`, KILL by default) when the
    orchestrator dies, even by SIGKILL (PR_SET_PDEATHSIG survives exec), for
    tools that cannot arm it themselves the way harness.traffic.worker does."""
    return ["setpriv", "--pdeathsig", sig, "--", *argv]
