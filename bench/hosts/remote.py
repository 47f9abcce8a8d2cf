"""A worker on a host, seen from the controller with the interface of
harness.host.procs.Worker (message, wait, messages, kill, exit_summary ...), so
that a driver runs it exactly as a local one.

It is `python -m harness.agents.leased LEASE_S -- ARGV` over an SSH channel: the
lease is renewed by a line on stdin every LEASE_S / 3 seconds, and ending
the worker is ending its lease (EOF on stdin), which kills the command's
whole session on the host.
"""
from __future__ import annotations

import asyncio
import json
import logging
import queue
import shlex
import threading
import time

from bench.hosts.ssh import LEASE_S, Connection, HostError, _reason
from harness.host import procs

log = logging.getLogger(__name__)

STDERR_KEEP = 4000
LEASED_TAG = '{"leased": '    # harness.agents.leased's last line on stderr
END_GRACE_S = LEASE_S + 2.0


class _Proc:
    """What a driver reads of procs.Worker.proc: poll() and returncode."""
    def __init__(self):
        self.returncode: int | None = None
        self.pid = None

    def poll(self) -> int | None:
        return self.returncode


class RemoteWorker(procs.MessageReader):
    def __init__(self, conn: Connection, venv_python: str, argv: list[str], label: str):
        self.label, self.conn = label, conn
        self.proc = _Proc()
        self.stderr = b""
        self._lines: queue.Queue = queue.Queue()
        self._partial = b""
        self._ended = threading.Event()
        command = shlex.join([venv_python, "-m", "harness.agents.leased", f"{LEASE_S:g}", "--", *argv])
        try:
            self._process = conn.loop.call(self._start(command), 30)
        except Exception as exc:
            raise HostError(f"host {conn.host.name!r}: cannot start the {label}: "
                            f"{_reason(exc)}", conn.host.name) from None
        log.info("started %s on host %s", label, conn.host.name)

    async def _start(self, command: str):
        process = await self.conn.conn.create_process(command, encoding=None)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._renew(process)),
                       loop.create_task(self._collect(process))]
        return process

    async def _renew(self, process) -> None:
        try:
            while not self._ended.is_set():
                process.stdin.write(b"\n")
                await asyncio.sleep(LEASE_S / 3)
        except Exception:      # the channel closed under us: the lease is over anyway
            pass

    async def _collect(self, process) -> None:
        async def stderr():
            try:
                while chunk := await process.stderr.read(65536):
                    self.stderr = (self.stderr + chunk)[-STDERR_KEEP:]
            except Exception:      # the connection broke: stdout's reader says so
                pass
        err = asyncio.get_running_loop().create_task(stderr())
        try:
            while line := await process.stdout.readline():
                if line.endswith(b"\n"):
                    self._lines.put(line[:-1])
                else:
                    self._partial += line
            await err
            await process.wait_closed()
            code = process.returncode
        except Exception as exc:   # the connection broke: the lease ends the worker
            await err
            self.stderr += f"\nthe SSH connection was lost: {_reason(exc)}".encode()
            code = -1
        self.proc.returncode = code if code is not None else -1
        self._ended.set()

    def __enter__(self) -> "RemoteWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()

    def message(self, deadline: float) -> dict | None:
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, min(0.2, deadline - time.monotonic())))
            except queue.Empty:
                if self._ended.is_set() and self._lines.empty() or time.monotonic() >= deadline:
                    return None
                continue
            return procs.decode(line)

    def wait(self, deadline: float) -> int | None:
        self._ended.wait(max(0.0, deadline - time.monotonic()))
        return self.proc.returncode

    def pending(self) -> bool:
        return not self._lines.empty()

    def stderr_text(self) -> str:
        lines = self.stderr.decode(errors="replace").strip().splitlines()
        return "\n".join(l for l in lines if not l.startswith(LEASED_TAG))

    def stdout_text(self) -> str:
        rest = []
        while not self._lines.empty():
            rest.append(self._lines.get())
        return b"\n".join([*rest, self._partial]).decode(errors="replace")

    def exit_summary(self) -> str:
        tail = (self.stderr_text() or self.stdout_text()).strip().splitlines()[-1:]
        return (f"on host {self.conn.host.name!r} exited with status {self.proc.returncode}: "
                f"{tail[0] if tail else 'no output'}")

    def cpu_s(self) -> float | None:
        """The command's user + system CPU seconds, as harness.agents.leased saw them."""
        for line in reversed(self.stderr.decode(errors="replace").splitlines()):
            if line.startswith(LEASED_TAG):
                return json.loads(line)["leased"]["cpu_s"]
        return None

    def kill(self) -> None:
        """End the lease (EOF on stdin); the host kills the worker's session."""
        if not self._ended.is_set():
            log.info("ending %s on host %s", self.label, self.conn.host.name)
            try:
                self.conn.loop.call(self._end(), END_GRACE_S + 5)
            except Exception as exc:    # the host is cut off: its lease ends the worker
                log.warning("ending %s on host %s: %s", self.label, self.conn.host.name,
                            _reason(exc))

    async def _end(self) -> None:
        try:
            self._process.stdin.write_eof()
            await asyncio.wait_for(asyncio.shield(self._tasks[1]), END_GRACE_S)
        except Exception:      # no answer: close the channel; the lease does the rest
            self._process.close()
        self._ended.set()


class RemoteWatch:
    """harness.agents.diagwatch on a host: the iperf3 driver's sock_diag views of
    one end (the interface of its local watch)."""

    def __init__(self, worker: RemoteWorker):
        self.worker = worker
        self._listening = False

    def __enter__(self) -> "RemoteWatch":
        return self

    def __exit__(self, *exc) -> None:
        self.worker.kill()

    def _drain(self) -> dict | None:
        last = None
        for msg in self.worker.messages():
            self._listening |= msg.get("event") == "listening"
            last = msg.get("view") or last
        return last

    def listening(self) -> bool:
        self._drain()
        return self._listening

    def view(self) -> dict | None:
        return self._drain()
