"""The results side stands without the system side: opening, comparing,
gating and re-rendering runs needs neither the compiled engine nor the
delay line (a notebook on a laptop without the build)."""
import subprocess
import sys
import textwrap

from harness import _engine, limits

BLOCKED = textwrap.dedent("""\
    import sys
    from pathlib import Path
    sys.modules["harness._engine"] = None      # importing it now raises ImportError
    sys.modules["harness._delayline"] = None
    from bench.analysis import compare, gate, open_run
    from bench.history import gate as hgate, store
    from bench.report import build
    runs = sys.argv[1]
    a, b = open_run(runs + "/quick-a"), open_run(runs + "/quick-b")
    cmp = compare.compare(a, b)
    verdict = gate.evaluate(cmp, gate.parse_thresholds([]), force=True)
    with store.Store(sys.argv[2], create=True) as s:
        s.add(a)
        judged = hgate.evaluate(s, b)
    written = build.write(a, Path(sys.argv[3]))
    assert not [m for m in sys.modules if m in ("harness._engine", "harness._delayline")
                and sys.modules[m] is not None]
    print(len(cmp.rows), verdict.status, judged.status, len(written))
""")


def test_runs_open_compare_and_gate_with_the_engine_blocked(data_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-c", BLOCKED, str(data_dir / "runs"), str(tmp_path / "h"),
                           str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows, status, judged, written = proc.stdout.split()
    # The captured pair has 2 ok trials a side, too few to judge a metric, and
    # no trial outcome changed: the gate passes; the history of one run
    # cannot judge (exit 2).
    assert (rows, status, judged) == ("30", "0", "2")
    assert int(written) > 0 and (tmp_path / "report.md").read_text().startswith("#")


def test_the_pure_mode_names_are_the_engines():
    assert limits.SEND_MODES == _engine.SEND_MODES
    assert limits.RECV_MODES == _engine.RECV_MODES
    assert set(limits.ZERO_COPY_MODES) <= set(limits.SEND_MODES)
    assert limits.MAX_FLOWS == _engine.MAX_FLOWS
