"""run --profile on real trials: the report says where the CPU went."""

import installed
from clirun import bench, env_without, journal

from harness.errors import CapabilityError
from harness.measure import profiler

# Shaped on the router as the suites' scenarios are: an unshaped single
# MPTCP link stalls now and then on this kernel (KERNEL_NOTES).
ONE = ('[scenario.p]\ndescription = "d"\nlinks = [{ rate_mbit = 100 }]\n'
       'workload = { duration_s = 1 }\n')


def test_profile_adds_symbols_and_flame_graphs(tmp_path, write_defs):
    try:
        profiler.check()
    except CapabilityError as exc:
        installed.require(False, str(exc))
    proc = bench("run", "--profile", "--scenario-file", write_defs(ONE), "--scenario", "p",
                 "--repeat", "1", "--warmup", "0", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = next(p for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink())
    text = (run / "report.md").read_text()
    assert "Where the CPU went" in text and "| symbol | TCP share | MPTCP share |" in text
    status = {t["protocol"]: t["status"] for t in journal(run)}
    assert status["tcp"] == "ok" and status["mptcp"] in ("ok", "stalled"), status
    # A flame graph is drawn from ok trials only: a stalled trial has none,
    # whatever the kernel's mood, an ok one always has one.
    for proto in ("tcp", "mptcp"):
        flame = run / "plots" / f"p-flame-{proto}.svg"
        if status[proto] == "ok":
            assert flame.read_bytes().startswith(b"<?xml")
        else:
            assert not flame.exists()
    assert sorted(f.name for f in (run / "profiles").iterdir()) == ["0.folded", "1.folded"]


def test_profile_without_perf_is_refused_in_one_sentence(tmp_path, write_defs):
    out = tmp_path / "reports"
    proc = bench("run", "--profile", "--scenario-file", write_defs(ONE), "--scenario", "p",
                 "--out", out, env=env_without("perf", tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("error: --profile needs perf, which is not on PATH: install "
                                   "Debian's linux-perf, or run without --profile")
    assert not out.exists()
