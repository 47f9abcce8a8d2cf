"""The kernel findings' reproducers (docs/repro, docs/kernels.md) still run
and leave nothing behind: standard library, two namespaces of their own.
What they measure is printed, never asserted here (a kernel's mood is a
finding, not a test failure)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPRO = Path(__file__).resolve().parents[2] / "docs" / "repro"


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.startswith("mpb-repro-")}


@pytest.mark.parametrize("script, lines", [
    ("single_link.py", [r"^MPTCP/TCP alone: \d+\.\d\d$", r"^MPTCP/TCP beside a CPU hog: \d+\.\d\d$",
                        r"^beside a CPU hog / alone: TCP \d+\.\d\d, MPTCP \d+\.\d\d$"]),
    ("rcvlowat.py", [r"^MPTCP SO_RCVLOWAT 1 MiB +\d+\.\d\d Gbit/s"]),
])
def test_a_reproducer_runs_its_cases_and_removes_its_namespaces(script, lines):
    before = _namespaces()
    p = subprocess.run(["/usr/bin/python3", str(REPRO / script), "0.5"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    for pattern in lines:
        assert re.search(pattern, p.stdout, re.M), p.stdout
    assert _namespaces() == before
