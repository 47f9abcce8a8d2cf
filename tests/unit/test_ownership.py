"""One benchmark run per machine: the second is refused, naming the first,
and a killed holder never leaves the lock behind."""
import os
import signal
import subprocess
import sys

import pytest

from harness import ownership

HOLDER = """
import time
from harness import ownership
with ownership.exclusive_run("20261128-first", out="reports/20261128-first"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def lock(tmp_path, monkeypatch):
    monkeypatch.setenv(ownership.LOCK_ENV, str(tmp_path / "run.lock"))


def test_a_second_run_is_refused_naming_the_first_until_it_dies(lock):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ownership.Busy) as busy:
            with ownership.exclusive_run("second", out="elsewhere"):
                pass
        msg = str(busy.value)
        assert msg.startswith("another benchmark run is going on this machine: run "
                              f"20261128-first (pid {holder.pid}, started ")
        assert msg.endswith("writing to reports/20261128-first); wait for it to end or stop it "
                            "(two runs at once would disturb each other's numbers)")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with ownership.exclusive_run("second", out="elsewhere"):   # released by the kernel
        pass


def test_a_process_the_holder_started_does_not_keep_the_lock(lock):
    # A tool a run started (close_fds or not) must not hold the machine
    # once the run is gone.
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.replace(
        'print("held"', 'import subprocess; child = subprocess.Popen(["sleep", "120"], '
        'close_fds=False); print(child.pid); print("held"')], stdout=subprocess.PIPE, text=True)
    child = int(holder.stdout.readline())
    try:
        assert holder.stdout.readline() == "held\n"
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        os.kill(child, 0)                     # still alive
        with ownership.exclusive_run("second", out="elsewhere"):
            pass
    finally:
        os.kill(child, signal.SIGKILL)
