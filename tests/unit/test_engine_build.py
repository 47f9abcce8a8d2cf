"""The engine builds without liburing, and its io_uring modes then say so
instead of failing obscurely (or, worse, quietly copying)."""
import fnmatch
import importlib.util
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine_without_liburing(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    env = {**os.environ, "MPTCP_BENCH_LIBURING": "0"}
    proc = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(out),
                           "--build-temp", str(out / "tmp")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (so,) = out.glob("harness/_engine*.so")
    spec = importlib.util.spec_from_file_location("_engine", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("mode", ["io_uring", "io_uring_zc"])
def test_io_uring_modes_report_built_without_liburing(engine_without_liburing, mode):
    e = engine_without_liburing
    assert e.LIBURING is False and mode in e.SEND_MODES
    a, b = socket.socketpair()
    with a, b:
        r = e.bulk_send(a.fileno(), max_bytes=4096, mode=mode)
    assert r["bytes"] == 0
    assert r["error"] == {"call": "io_uring", "errno": 38, "unsupported": True,
                          "detail": "built without liburing"}


def test_the_other_modes_still_move_bytes(engine_without_liburing):
    a, b = socket.socketpair()
    with a, b:
        r = engine_without_liburing.bulk_send(a.fileno(), max_bytes=4096, mode="send")
    assert r["error"] is None and r["bytes"] == 4096


def test_only_the_io_uring_file_depends_on_liburing():
    """The stubs answer for the io_uring modes when liburing is absent; any
    other file testing HAVE_LIBURING would build differently behind them."""
    csrc = ROOT / "harness" / "csrc" / "engine"
    users = sorted(p.name for p in csrc.glob("*.[ch]")
                   if any(line.lstrip().startswith("#") and "HAVE_LIBURING" in line
                          for line in p.read_text().splitlines()))
    assert users == ["uring.c"]


def test_the_package_data_ships_every_engine_source():
    """An sdist must carry what setup.py compiles (sorted glob of csrc/*.c)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["harness"]
    sources = sorted(p.relative_to(ROOT / "harness").as_posix()
                     for p in (ROOT / "harness" / "csrc" / "engine").glob("*.[ch]"))
    assert sources and all(any(fnmatch.fnmatch(s, pat) for pat in patterns) for s in sources)
