"""The shared-machine goals (docs/method.md, "Goal runs"): the default suite
on a quiet machine and beside a known foreign load, and what the runs say.

    python tests/tools/shared_machine_goals.py record OUT LOAD [--tag T] [-- RUN ARGS]
    python tests/tools/shared_machine_goals.py table OUT

LOAD is one of
  none     nothing beside the run (the machine must be otherwise quiet);
  busy     one CPU-bound process, normal priority: python3 -c 'while 1: pass';
  spawner  100 short processes a second (/bin/true), each one fork + exec;
  inject5  5 % of one CPU: 5 ms of its own CPU time in every 100 ms.
`record` starts the load (a child of this process, ended by PID), runs
`python -m bench run --out OUT/LOAD-T RUN ARGS`, ends the load and writes
what the load really used to OUT/LOAD-T/load.json.  `table` prints, per
run, the trials flagged disturbed, the foreign share's spread, aggregate-2x's
own CPU/GB IQR/median per protocol and the answer's figures against the
quiet run's (the first `none` run), as markdown for docs/method.md.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

LOADS = {
    "none": None,
    "busy": "while 1: pass",
    "spawner": ("import subprocess, time\n"
                "t = time.monotonic()\n"
                "while True:\n"
                "    subprocess.run(['/bin/true'])\n"
                "    t += 0.01\n"
                "    time.sleep(max(0.0, t - time.monotonic()))\n"),
    "inject5": ("import time\n"
                "t = time.monotonic()\n"
                "while True:\n"
                "    end = time.process_time() + 0.005\n"
                "    while time.process_time() < end: pass\n"
                "    t += 0.1\n"
                "    time.sleep(max(0.0, t - time.monotonic()))\n"),
}

# The answer's figures: (scenario, metric) whose MPTCP/TCP paired ratio is compared.
FIGURES = (("single-link", "goodput_bps"), ("single-link", "cpu_own_s_per_gb"),
           ("aggregate-2x", "goodput_bps"), ("aggregate-2x", "cpu_own_s_per_gb"),
           ("rr", "latency_us_p50"), ("rr", "latency_us_p99"),
           ("rr", "cpu_own_us_per_transaction"))


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process (schedstat, ns) and of its reaped children
    (cutime + cstime, ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/schedstat") as f:
        own = int(f.read().split()[0]) / 1e9
    return own + sum(int(v) for v in fields[13:15]) / os.sysconf("SC_CLK_TCK")


def record(out: Path, load: str, tag: str, run_args: list[str]) -> int:
    dest = out / f"{load}-{tag}"
    if dest.exists():
        sys.exit(f"{dest} exists; pick another --tag")
    proc = None
    if LOADS[load]:
        proc = subprocess.Popen([sys.executable, "-c", LOADS[load]])
    t0, cpu0 = time.monotonic(), proc and tree_cpu_s(proc.pid)
    try:
        rc = subprocess.call([sys.executable, "-m", "bench", "run", "--out", str(dest), *run_args])
    finally:
        wall = time.monotonic() - t0
        used = proc and tree_cpu_s(proc.pid) - cpu0
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    (dest / "load.json").write_text(json.dumps({
        "load": load, "wall_s": wall, "cpu_s": used,
        "share_of_one_cpu": used / wall if used is not None else 0.0, "bench_exit": rc}))
    return rc


def runs(out: Path) -> list[tuple[str, Path, dict]]:
    found = []
    for d in sorted(p for p in out.iterdir() if (p / "load.json").exists()):
        (run,) = [r for r in d.iterdir() if not r.is_symlink() and (r / "results.json").is_file()]
        found.append((d.name, run, json.loads((d / "load.json").read_text())))
    return found


def figures(run) -> dict:
    from bench.analysis import summary
    out = {}
    for scenario, metric in FIGURES:
        r = summary.paired_ratios(run.trials, metric)
        r = r[r["scenario"] == scenario]
        out[(scenario, metric)] = float(r["ratio"].iloc[0]) if len(r) else float("nan")
    return out


def table(out: Path) -> None:
    import numpy as np

    from bench import report
    from bench.analysis import open_run
    found = [(name, open_run(path), load) for name, path, load in runs(out)]
    quiet = next((f for n, r, ld in found if ld["load"] == "none" for f in [figures(r)]), None)
    print("| run | load (share of one CPU) | trials | disturbed | foreign share p50 / max "
          "(not disturbed) | agg-2x own CPU/GB IQR/median TCP, MPTCP | answer figures off "
          "the quiet run by more than 10 % |")
    print("|---|---|---|---|---|---|---|")
    for name, run, load in found:
        t = run.trials
        dist = int((t["status"] == "disturbed").sum())
        share = t.loc[t["status"] != "disturbed", "cpu_foreign_share"].astype(float)
        agg = []
        for proto in ("tcp", "mptcp"):
            v = t[(t["scenario"] == "aggregate-2x") & (t["protocol"] == proto)
                  & (t["status"] == "ok")]["cpu_own_s_per_gb"].astype(float)
            q1, med, q3 = np.percentile(v, [25, 50, 75]) if len(v) else (np.nan,) * 3
            agg.append(f"{(q3 - q1) / med:.0%}")
        off = []
        if quiet:
            for key, value in figures(run).items():
                if abs(value / quiet[key] - 1) > 0.10:
                    off.append(f"{key[0]} {key[1]} ×{quiet[key]:.2f}→×{value:.2f}")
        print(f"| {name} | {load['load']} ({load['share_of_one_cpu']:.1%}) | {len(t)} | {dist} "
              f"({dist / len(t):.0%}) | {share.median():.1%} / {share.max():.1%} | "
              f"{', '.join(agg)} | {'; '.join(off) or 'none'} |")
    print()
    for name, run, _ in found:
        rep = report.Report(run)
        print(f"{name}:")
        for scenario in ("single-link", "aggregate-2x", "rr"):
            print(f"  {rep.headline(scenario, 'native')}")


def main(argv: list[str]) -> int:
    run_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("out", type=Path)
    r.add_argument("load", choices=sorted(LOADS))
    r.add_argument("--tag", default="1")
    t = sub.add_parser("table")
    t.add_argument("out", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "record":
        a.out.mkdir(parents=True, exist_ok=True)
        return record(a.out, a.load, a.tag, run_args)
    table(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
