"""SSH to the hosts, with asyncssh: one connection per host, driven from an
event loop in a thread of its own so that the (synchronous) orchestrator
calls it like any other module.

A remote worker is a command started under harness.agents.leased: its lease is
renewed by a line on stdin every LEASE_S / 3 seconds; closing the channel,
or the controller dying, ends it and everything it started (docs/hosts.md).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import shlex
import threading
import warnings

from bench.hosts.inventory import Host
from harness.errors import HarnessError

log = logging.getLogger(__name__)

LEASE_S = 3.0          # a remote worker outlives a lost controller by at most this
COMMAND_TIMEOUT_S = 120.0
# The keys asyncssh would try from ~/.ssh when the inventory names none, less DSA:
# its keys are deprecated in cryptography (and OpenSSH), so none is ever loaded.
DEFAULT_KEYS = ("id_ed25519_sk", "id_ecdsa_sk", "id_ed448", "id_ed25519", "id_ecdsa", "id_rsa")


class HostError(HarnessError):
    """A host cannot be reached or refused what the run needs; `host` names it."""

    def __init__(self, message: str, host: str | None = None):
        super().__init__(message)
        self.host = host


class Loop:
    """An asyncio loop in a daemon thread; call() runs a coroutine on it."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ssh", daemon=True)
        self.thread.start()

    def call(self, coro, timeout: float | None = None):
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def asyncssh_module():
    """asyncssh, imported with what it warns about sent to the log: it imports
    its DSA support unconditionally, which newer cryptography releases warn
    about at import; no option of asyncssh avoids that, and no DSA key is used
    (DEFAULT_KEYS)."""
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            import asyncssh
    except ImportError:
        raise HostError("--hosts needs the Python package asyncssh, which is not installed: "
                        "pip install 'mptcp-bench[hosts]' (make venv installs it)") from None
    for w in {(w.category.__name__, str(w.message)) for w in seen}:
        log.info("importing asyncssh: %s: %s", *w)
    return asyncssh


def key_options(key: str | None, home: str | None = None) -> dict:
    """asyncssh's options for the private keys to offer: the inventory's key, or
    the default ones that exist (an encrypted one skipped, as asyncssh's own
    defaults do), never a DSA key.  With none of them, asyncssh's defaults."""
    if key:
        return {"client_keys": [os.path.expanduser(key)]}
    ssh_dir = os.path.join(home or os.path.expanduser("~"), ".ssh")
    found = [p for p in (os.path.join(ssh_dir, n) for n in DEFAULT_KEYS) if os.path.isfile(p)]
    return {"client_keys": found, "ignore_encrypted": True} if found else {}


class Connection:
    """One host's SSH connection (through its jump host, if it has one)."""

    def __init__(self, loop: Loop, host: Host):
        self.loop, self.host = loop, host
        self.conn = None
        self._tunnel = None

    def _options(self, user: str) -> dict:
        ssh = self.host.ssh
        opts: dict = {"username": user, "connect_timeout": ssh.connect_timeout_s,
                      "keepalive_interval": 1, "keepalive_count_max": 3}
        opts.update(key_options(ssh.key))
        if ssh.known_hosts:
            opts["known_hosts"] = os.path.expanduser(ssh.known_hosts)
        return opts

    async def _open(self) -> None:
        asyncssh = asyncssh_module()
        ssh = self.host.ssh
        jump = ssh.jump_parts()
        if jump:
            juser, jhost, jport = jump
            self._tunnel = await asyncssh.connect(jhost, port=jport,
                                                  **self._options(juser or ssh.user))
        self.conn = await asyncssh.connect(ssh.host, port=ssh.port, tunnel=self._tunnel,
                                           **self._options(ssh.user))

    def open(self, timeout: float | None = None) -> "Connection":
        try:
            self.loop.call(self._open(), timeout or self.host.ssh.connect_timeout_s * 2 + 5)
        except Exception as exc:   # asyncssh, OS and timeout errors alike: one sentence
            self.close()
            raise HostError(f"host {self.host.name!r} ({self.host.ssh.target()}) is not "
                            f"reachable over SSH: {_reason(exc)}; check the inventory's ssh "
                            "table, the key and known_hosts", self.host.name) from None
        log.info("connected to host %s (%s)", self.host.name, self.host.ssh.target())
        return self

    def run(self, argv: list[str], check: bool = True, timeout: float = COMMAND_TIMEOUT_S,
            input: str | None = None):
        """Run argv on the host; its completed process (stdout, stderr, exit_status)."""
        command = shlex.join(argv)
        try:
            done = self.loop.call(self.conn.run(command, input=input), timeout)
        except Exception as exc:
            raise HostError(f"host {self.host.name!r} ({self.host.ssh.target()}) did not answer "
                            f"`{_short(argv)}` ({_reason(exc)}); check the network to it, then "
                            "run `python -m bench clean --hosts` with this inventory",
                            self.host.name) from None
        if check and done.exit_status != 0:
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:]
            raise HostError(f"host {self.host.name!r}: `{_short(argv)}` exited with status "
                            f"{done.exit_status}: {tail[0] if tail else 'no output'}", self.host.name)
        return done

    def alive(self, timeout: float = 5.0) -> bool:
        """The host answers a command now."""
        if self.conn is None:
            return False
        try:
            self.run(["true"], timeout=timeout)
        except HostError:
            return False
        return True

    def put(self, local: str, remote: str) -> None:
        async def copy():
            async with self.conn.start_sftp_client() as sftp:
                await sftp.put(local, remote)
        try:
            self.loop.call(copy(), COMMAND_TIMEOUT_S)
        except Exception as exc:
            raise HostError(f"host {self.host.name!r}: copying {os.path.basename(local)} to "
                            f"{remote} failed: {_reason(exc)}", self.host.name) from None

    def close(self) -> None:
        async def close():
            for c in (self.conn, self._tunnel):
                if c is not None:
                    c.close()
                    await c.wait_closed()
        try:
            self.loop.call(close(), 10)
        except Exception:   # closing what is already broken
            pass
        self.conn = self._tunnel = None


def _short(argv: list[str]) -> str:
    """A command as a person reads it: `python -m harness.agents.hostctl pm-show`."""
    if len(argv) > 2 and argv[1] == "-m":
        argv = ["python", *argv[1:4]]
    text = " ".join(argv)
    return text if len(text) <= 80 else text[:77] + "..."


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
