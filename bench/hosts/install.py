"""The project's own worker on each host: a bundle (the project's wheel,
with its compiled engine, and the wheels of what `harness` imports) built
here once per source version, copied over SSH, and installed with
`pip --no-index --no-deps` into a venv in a versioned directory:

    <install_dir>/<bundle id>/<host name>/venv

Remote hosts need no internet: only python3 with its venv module.  When a
host's Python version or machine differs from this one, the source
distribution is copied and built there instead, with setuptools and wheel
from the bundle (the host then needs a compiler and the Python headers).
A directory whose marker matches is reused.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.hosts.ssh import Connection, HostError
from bench.run import environment

PROJECT = Path(__file__).resolve().parents[2]
# What harness imports beyond the standard library (tests/unit/test_hosts_logic.py
# checks this list against harness's imports): pyroute2 for the path
# manager and sock_diag, numpy for the latency workloads' percentiles.
WORKER_REQUIREMENTS = ("pyroute2", "numpy")
# harness imports these too, in what runs only in this machine's namespaces
# (the security suite's attacker): not installed on remote hosts.
LOCAL_ONLY_REQUIREMENTS = ("scapy",)
# What building the project from its sdist on a host needs, installed there
# from the bundle first (the host may have no index to fetch them from).
BUILD_REQUIREMENTS = ("setuptools", "wheel")
CACHE_ENV = "MPTCP_BENCH_BUNDLE_CACHE"
# Tests only: build from the sdist on the host even when its platform is ours.
BUILD_THERE_ENV = "MPTCP_BENCH_HOSTS_BUILD_THERE"
SOURCES = ("harness", "bench")
SUFFIXES = (".py", ".pyi", ".c", ".h", ".toml")


@dataclass(frozen=True)
class Bundle:
    id: str
    directory: Path

    def wheels(self) -> list[Path]:
        return sorted(self.directory.glob("*.whl"))

    def requirement_wheels(self) -> list[Path]:
        return [w for w in self.wheels() if not w.name.startswith("mptcp_bench-")]

    def build_wheels(self) -> list[Path]:
        return sorted((self.directory / "build").glob("*.whl"))

    def sdist(self) -> Path | None:
        return next(iter(sorted(self.directory.glob("*.tar.gz"))), None)


def source_id() -> str:
    """The version and a digest of every source file that goes into the wheel."""
    h = hashlib.sha256()
    files = [PROJECT / "pyproject.toml", PROJECT / "setup.py", environment.LOCK]
    for top in SOURCES:
        files += sorted(p for p in (PROJECT / top).rglob("*") if p.suffix in SUFFIXES)
    for path in files:
        h.update(str(path.relative_to(PROJECT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{importlib.metadata.version('mptcp-bench')}-{h.hexdigest()[:12]}"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mptcp-bench" / "bundles")


def bundle() -> Bundle:
    """This source version's bundle, built once and kept in the cache."""
    bid = source_id()
    final = cache_dir() / bid
    if (final / "complete").exists():
        return Bundle(bid, final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{bid}-", dir=final.parent))
    try:
        _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp), str(PROJECT))
        _download(WORKER_REQUIREMENTS, tmp)
        _download(BUILD_REQUIREMENTS, tmp / "build", "--only-binary=:all:")
        _sdist(tmp)
        (tmp / "complete").write_text(bid)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Bundle(bid, final)


def _download(names, into: Path, *options: str, marker_env: dict | None = None) -> None:
    """The locked release of each package, hash-checked: the hosts run what
    the controller's lock says (docs/testing.md#the-lock-file)."""
    pins = environment.locked(environment.parse(environment.LOCK.read_text()), marker_env)
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=into) as req:
        req.write("".join(pins[n].requirement() + "\n" for n in names))
        req.flush()
        _pip("download", "--no-deps", "--require-hashes", *options, "-d", str(into), "-r", req.name)


def _pip(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "-q", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["no output"]
        # pip ends with hints ("See above for details"): the error line says what.
        said = next((l for l in reversed(lines) if l.lower().startswith("error")), lines[-1])
        raise HostError(f"building the worker bundle failed at `pip {args[0]}`: {said.strip()}; "
                        "the controller needs the locked build requirements (make venv) and a "
                        "package index or pip's cache")


def _sdist(into: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        proc = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(into)],
                              cwd=PROJECT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": work})
    if proc.returncode != 0:
        raise HostError(f"building the source distribution failed: {proc.stderr.strip()[-200:]}")


def local_platform() -> dict:
    return {"python": ".".join(platform.python_version_tuple()[:2]), "machine": platform.machine()}


@dataclass(frozen=True)
class Install:
    host: str
    directory: str
    python: str          # the venv's interpreter on the host
    fresh: bool          # installed now (not reused)


def target_dir(home: str, install_dir: str, bid: str, host: str) -> str:
    base = home + install_dir[1:] if install_dir.startswith("~/") else install_dir
    return f"{base}/{bid}/{host}"


def installed(conn: Connection, bid: str, home: str, remote: dict) -> bool:
    """Whether this bundle is installed on the host (its marker matches)."""
    d = target_dir(home, conn.host.install_dir, bid, conn.host.name)
    seen = conn.run(["cat", f"{d}/installed.json"], check=False)
    return seen.exit_status == 0 and _json(seen.stdout) == {"bundle": bid, **remote}


def install(conn: Connection, b: Bundle, home: str, remote: dict) -> Install:
    """The bundle installed on the host of `conn` (or found there)."""
    host = conn.host
    d = target_dir(home, host.install_dir, b.id, host.name)
    python = f"{d}/venv/bin/python"
    marker = {"bundle": b.id, **remote}
    if installed(conn, b.id, home, remote):
        return Install(host.name, d, python, fresh=False)
    conn.run(["rm", "-rf", d])
    conn.run(["mkdir", "-p", f"{d}/dist", f"{d}/state"])
    same = {k: remote[k] for k in ("python", "machine")} == local_platform()
    there = not same or bool(os.environ.get(BUILD_THERE_ENV))
    build = b.build_wheels() if there else []
    files = [*(b.requirement_wheels() if same else _foreign_wheels(b, remote)),
             *([b.sdist()] if there else [w for w in b.wheels() if w.name.startswith("mptcp_bench-")])]
    for f in [*build, *files]:
        conn.put(str(f), f"{d}/dist/{f.name}")
    conn.run([host.python, "-m", "venv", f"{d}/venv"])
    pip = [python, "-m", "pip", "install", "-q", "--no-index", "--no-deps"]
    if build:    # setuptools and wheel first: the sdist is built with them, offline
        conn.run([*pip, *(f"{d}/dist/{f.name}" for f in build)])
    conn.run([*pip, *(["--no-build-isolation"] if there else []),
              *(f"{d}/dist/{f.name}" for f in files)], timeout=600)
    check_version(conn, python, b.id)
    conn.run(["sh", "-c", f"cat > {shlex.quote(d + '/installed.json')}"], input=json.dumps(marker))
    return Install(host.name, d, python, fresh=True)


def _foreign_wheels(b: Bundle, remote: dict) -> list[Path]:
    """For a host of another Python or machine: the pure wheels, and binary
    wheels of the requirements for its platform (pip download --platform)."""
    into = b.directory / f"{remote['machine']}-py{remote['python']}"
    if not (into / "complete").exists():
        _download(WORKER_REQUIREMENTS, into, "--only-binary=:all:", "--platform",
                  f"manylinux2014_{remote['machine']}", "--python-version", remote["python"],
                  marker_env={"python_version": remote["python"], "platform_machine": remote["machine"],
                              "python_full_version": f"{remote['python']}.0"})
        (into / "complete").write_text("")
    return sorted(into.glob("*.whl"))


def check_version(conn: Connection, python: str, bid: str) -> None:
    """The installed worker is this version and its engine loads."""
    got = conn.run([python, "-m", "harness.agents.hostctl", "version"], check=False)
    found = _json(got.stdout) or {}
    if got.exit_status != 0 or found.get("version") != bid.split("-")[0]:
        raise HostError(f"host {conn.host.name!r}: the installed worker does not answer as "
                        f"version {bid} ({(got.stderr or got.stdout).strip()[-160:] or 'no output'});"
                        " remove its install directory and run again")


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None
