"""run --profile on real trials: the report says where the CPU went."""

import pytest
from clirun import bench, env_without

from harness.errors import CapabilityError
from harness.measure import profiler

ONE = ('[scenario.p]\ndescription = "d"\nlinks = [{}]\nworkload = { duration_s = 1 }\n')


def test_profile_adds_symbols_and_flame_graphs(tmp_path, write_defs):
    try:
        profiler.check()
    except CapabilityError as exc:
        pytest.skip(str(exc))
    proc = bench("run", "--profile", "--scenario-file", write_defs(ONE), "--scenario", "p",
                 "--repeat", "1", "--warmup", "0", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = next(p for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink())
    text = (run / "report.md").read_text()
    assert "Where the CPU went" in text and "| symbol | TCP share | MPTCP share |" in text
    for proto in ("tcp", "mptcp"):
        assert (run / "plots" / f"p-flame-{proto}.svg").read_bytes().startswith(b"<?xml")
    assert sorted(f.name for f in (run / "profiles").iterdir()) == ["0.folded", "1.folded"]


def test_profile_without_perf_is_refused_in_one_sentence(tmp_path, write_defs):
    out = tmp_path / "reports"
    proc = bench("run", "--profile", "--scenario-file", write_defs(ONE), "--scenario", "p",
                 "--out", out, env=env_without("perf", tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("error: --profile needs perf, which is not on PATH: install "
                                   "Debian's linux-perf, or run without --profile")
    assert not out.exists()
