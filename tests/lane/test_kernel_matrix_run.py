"""A real two-kernel matrix: the `quick` suite's shapes under the host's
kernel and, in the VM lane, Debian 12's kernel fetched by name from Debian's
archive into the kernel cache (run by `make test-vm`, after `make vm-deps`);
the host's /boot, apt sources and package state stay as they were."""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "root"))
import clirun  # noqa: E402

TINY_2X = clirun.TINY + ('[scenario.tiny-2x]\ndescription = "d"\n'
                         'links = [{ rate_mbit = 20 }, { rate_mbit = 20 }]\n'
                         '[suite.tiny-matrix]\ndescription = "d"\nscenarios = ["tiny", "tiny-2x"]\n'
                         'repeat = 2\nwarmup = 0\nduration_s = 2\n')


def _vm_lane_missing() -> str | None:
    from bench.lanes import vmlane
    try:
        vmlane.vng_path()
    except Exception as exc:      # CapabilityError: the sentence says what to install
        return str(exc)
    return None


def _host_packages() -> dict[str, str]:
    """What fetching a kernel must not touch: /boot, apt's sources, lists,
    archives and keys, and dpkg's database; each file's size and mtime."""
    out = {}
    for top in ("/boot", "/etc/apt", "/var/lib/apt/lists", "/var/cache/apt/archives",
                "/var/lib/dpkg/status", "/var/lib/dpkg/info"):
        paths = [Path(top)] if Path(top).is_file() else sorted(Path(top).rglob("*"))
        for p in paths:
            if p.is_file() and not p.is_symlink() and p.name != "lock":
                st = p.stat()
                out[str(p)] = f"{st.st_size} {st.st_mtime_ns}"
    return out


def test_a_host_and_a_vm_kernel_give_one_matrix_and_join_the_history(tmp_path):
    missing = _vm_lane_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    defs = tmp_path / "defs.toml"
    defs.write_text(TINY_2X)
    out, store = tmp_path / "runs", tmp_path / "store"
    before = _host_packages()
    p = clirun.bench("run", "--scenario-file", defs, "--suite", "tiny-matrix", "--kernel", "host",
                     "--kernel", "debian:6.1", "--out", out, "--store", store, timeout=1500)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    after = _host_packages()
    assert sorted(set(before) ^ set(after)) == [] and \
        [f for f in before if before[f] != after[f]] == []
    (matrix,) = out.glob("matrix-*/matrix.md")
    text = matrix.read_text()
    host = os.uname().release
    header = next(line for line in text.splitlines() if line.startswith("| scenario | protocol |"))
    kernels = re.findall(r"\| ([^|(]+) \((host|VM, emulated CPU)[^)]*\) ", header)
    assert [k[1] for k in kernels] == ["host", "VM, emulated CPU"], text
    docs = [json.loads((d / "results.json").read_text()) for d in out.iterdir()
            if not d.is_symlink() and (d / "results.json").is_file()]     # not `latest`
    (vm_run,) = [doc for doc in docs if doc["metadata"]["lane"]["kind"] == "vm"]
    debian = vm_run["metadata"]["lane"]["debian"]
    assert debian["suite"] in ("bookworm", "bookworm-security") and debian["version"] in header
    assert debian["package"] in debian["packages"]
    assert "## What changed from one kernel to the next" in text
    assert kernels[0][0] == host and kernels[1][0] != host
    for scenario, subflows in (("tiny", "1/1"), ("tiny-2x", "2/2")):
        row = next(line for line in text.splitlines() if line.startswith(f"| {scenario} | MPTCP | ")
                   and "ok" in line)
        assert row.count(f"2/2 ok; subflows {subflows}") == 2, row
    assert (matrix.parent / "matrix.html").read_text().startswith("<!DOCTYPE html>")
    with sqlite3.connect(store / "history.sqlite") as db:
        runs = db.execute("SELECT kernel, lane FROM runs ORDER BY lane").fetchall()
    assert runs == [(host, "host"), (kernels[1][0], "vm")]
    shutil.rmtree(out)
