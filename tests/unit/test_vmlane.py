"""The VM lane's plumbing, with a fake vng in place of virtme-ng and qemu:
no VM is booted."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What qemu does under vng: opens its console files on /proc/self/fd/1 and 2
# anew, with O_TRUNC ("w"), and writes the guest's output there; the guest
# runs the --exec script, which writes the exit status file.
FAKE_VNG = """\
#!{python}
import os, subprocess, sys, time
open({pidfile!r}, "w").write(str(os.getpid()))
if {hang}:
    time.sleep(60)
out = open("/proc/self/fd/1", "wb", buffering=0)
err = open("/proc/self/fd/2", "wb", buffering=0)
out.write(b"console: booting\\n")
out.write(b"\\xff\\xfe not utf-8, " + b"x" * 100_000 + b"\\n")
err.write(b"console: kernel message\\n")
script = sys.argv[sys.argv.index("--exec") + 1]
subprocess.run(["sh", "-c", script], stdout=out, stderr=err, check=False)
out.write(b"console: powering off\\n")
"""

# The caller: prints, boots the fake, prints.
CALLER = """\
import sys
from pathlib import Path
from bench.lanes import vmlane
vmlane.vng_path = lambda: {vng!r}
vmlane.find_image = lambda image: image
vmlane.PROJECT_ROOT = Path({root!r})
print("BEFORE")
try:
    code = vmlane.boot("vmlinuz-fake", ["sh", "-c", "echo INSIDE; exit 3"], [], 30)
except KeyboardInterrupt:
    sys.exit(130)
print("AFTER", code)
"""


def _fake(tmp_path: Path, hang: bool = False) -> tuple[list[str], Path]:
    vng = tmp_path / "bin" / "vng"
    vng.parent.mkdir()
    pidfile = tmp_path / "vng.pid"
    vng.write_text(FAKE_VNG.format(python=sys.executable, pidfile=str(pidfile), hang=hang))
    vng.chmod(0o755)
    caller = CALLER.format(vng=str(vng), root=str(tmp_path))
    return [sys.executable, "-c", caller], pidfile


def test_vm_output_is_appended_to_a_redirected_stdout_in_order(tmp_path):
    argv, _ = _fake(tmp_path)
    log = tmp_path / "ci.log"
    # The caller's stdout block-buffered, as in CI, so that boot() must flush it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open(log, "wb") as f:        # like `make test > ci.log 2>&1`
        f.write(b"EARLIER host test output\n")
        f.flush()
        proc = subprocess.run(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=f,
                              stderr=subprocess.STDOUT, timeout=60)
    assert proc.returncode == 0
    assert log.read_bytes() == (
        b"EARLIER host test output\n"
        b"BEFORE\n"
        b"console: booting\n"
        b"\xff\xfe not utf-8, " + b"x" * 100_000 + b"\n"
        b"console: kernel message\n"
        b"INSIDE\n"
        b"console: powering off\n"
        b"AFTER 3\n")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_an_interrupted_caller_ends_the_vm(tmp_path, sig):
    argv, pidfile = _fake(tmp_path, hang=True)
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, "the fake vng never ran"
            time.sleep(0.05)
        vng = int(pidfile.read_text())
        proc.send_signal(sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _alive(vng) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(vng), f"the VM (pid {vng}) outlived its caller's {sig.name}"
    finally:
        proc.kill()
        proc.wait()
        if pidfile.exists() and pidfile.read_text() and _alive(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)   # the fake this test started


def test_the_run_directories_a_child_run_added_are_found(tmp_path):
    from bench.lanes import new_run_dirs
    from bench.results_format import RESULTS

    def run_dir(name: str) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / RESULTS).write_text("{}")
        return tmp_path / name

    run_dir("20261207-060000-aaaa")
    with new_run_dirs(tmp_path) as new:
        later, sooner = run_dir("20261207-070000-bbbb"), run_dir("20261207-065959-cccc")
        (tmp_path / "latest").symlink_to(later)
        (tmp_path / "matrix-20261207-070100").mkdir()       # no results: not a run
        assert new == []
    assert new == [sooner, later]
