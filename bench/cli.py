"""python -m bench {run,list,doctor,clean,options,vm,report,compare,gate,export,history,trend}

Exit status: 0 success, 1 a benchmark failure (a failed trial, or a
scenario with no usable trial) or, for `gate`, a regression, 2 bad input,
a missing capability or runs that cannot be compared, 128+N when ended by
signal N.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Commands import what they use: `clean`, `list` and --help stay free of
# pandas, numpy, matplotlib, pyperf and pyarrow.
from bench import term
from bench.analysis.metrics import default_thresholds
from bench.catalog import MAX_DURATION_S, MAX_REPEAT, MAX_WARMUP, Catalog
from bench.errors import EXIT_BAD_INPUT, EXIT_OK, InputError
from harness.errors import HarnessError
from harness.traffic.drivers import names as driver_names

MAX_RETRIES = 10     # re-runs of one disturbed trial


class Parser(argparse.ArgumentParser):
    """argparse with whole option names only (an abbreviation such as --ke
    would slip past the VM lane's filtering of its own options) and a usage
    error in one line, exit status 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see `{self.prog} --help`)\n")


def _number(low: float, high: float, whole: bool = False, above_low: bool = False):
    """An argparse type: a finite number within [low, high] (or (low, high])."""
    def parse(text: str):
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {'whole ' if whole else ''}number") from None
        if not math.isfinite(value) or value > high or value < low or (above_low and value == low):
            bound = f"above {low:g}" if above_low else f"from {low:g}"
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: give a number "
                                             f"{bound} up to {high:g}")
        return value
    return parse


def _path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a directory")
    return Path(text)


def _version() -> str:
    try:
        return metadata.version("mptcp-bench")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _verbose_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log what is created and removed: namespaces, links, qdiscs, rules, "
                        "sysctls, processes")


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", help="suite to run (default: default); see `list`")
    p.add_argument("--scenario", action="append", default=[], metavar="NAME",
                   help="run this scenario (repeatable); overrides the suite's list")
    p.add_argument("--scenario-file", action="append", default=[], metavar="PATH",
                   help="TOML file with [scenario.NAME] / [suite.NAME] tables (repeatable)")


def _vm_args(p: argparse.ArgumentParser, help: str, default: str | None = None,
             repeatable: bool = False) -> None:
    p.add_argument("--kernel", default=default, metavar="IMAGE", help=help,
                   action="append" if repeatable else "store")
    p.add_argument("--kvm", action="store_true", help="use KVM (only when the host can boot IMAGE)")
    p.add_argument("--vm-timeout", type=_number(0, 7 * 86400, above_low=True), metavar="S",
                   help="give up on the VM after S seconds")


def parser() -> argparse.ArgumentParser:
    ap = Parser(prog="python -m bench", description=(
        "Benchmark MPTCP against TCP on namespaced multi-link topologies."))
    ap.add_argument("--version", action="version", version=f"mptcp-bench {_version()}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a suite and write a run directory")
    _plan_args(run)
    _verbose_arg(run)
    run.add_argument("--repeat", type=_number(1, MAX_REPEAT, whole=True), metavar="N",
                     help="paired repeats per scenario")
    run.add_argument("--warmup", type=_number(0, MAX_WARMUP, whole=True), metavar="N",
                     help="warm-up pairs per scenario")
    run.add_argument("--duration", type=_number(0, MAX_DURATION_S, above_low=True), metavar="S",
                     help="seconds per trial")
    run.add_argument("--driver", action="append", metavar="NAME",
                     help=f"traffic driver: {', '.join(driver_names())} (repeatable: the drivers' "
                          "trials are interleaved per repeat; default: the suite's, or native)")
    run.add_argument("--profile", action="store_true",
                     help="sample the whole machine with perf during each trial: the report "
                          "gets the busiest symbols per protocol and flame graphs")
    run.add_argument("--retries", type=_number(0, MAX_RETRIES, whole=True), metavar="N",
                     default=2, help="re-run a trial that foreign CPU load disturbed up to N "
                                     "times (default 2; every try is recorded)")
    run.add_argument("--disturbed-above", type=_number(0, 200), metavar="PCT",
                     help="foreign CPU, in per cent of one CPU over a trial, above which the "
                          "trial is disturbed (default 3, or $MPTCP_BENCH_DISTURBED_ABOVE)")
    run.add_argument("--quiet-machine", action="store_true",
                     help="refuse to start when the machine is already busy (default: warn)")
    run.add_argument("--delay-backend", choices=("auto", "host", "netem"),
                     help="who delays packets on delayed links: the host delay line (NFQUEUE), "
                          "netem, or auto (netem where the kernel has it; default: the scenario's)")
    run.add_argument("--out", type=_path, metavar="DIR",
                     help="where run directories go (default: reports)")
    run.add_argument("--resume", type=_path, metavar="RUN_DIR",
                     help="continue an interrupted run from its journal, with its own plan")
    _vm_args(run, "run the suite inside a VM booted from IMAGE (vmlinuz path, auto, or "
             "debian:6.1|6.12|unstable|<version>: fetched from Debian's archive); "
             "repeated, the suite runs under each kernel (`host`: the running one) and one "
             "comparison across them is written, each run added to the history store",
             repeatable=True)
    run.add_argument("--hosts", type=_path, metavar="INVENTORY",
                     help="run between the real hosts of this inventory over SSH (docs/hosts.md)")
    run.add_argument("--use-host-config", action="store_true",
                     help="with --hosts: leave the hosts' MPTCP endpoints as they are (recorded)")
    run.add_argument("--dry-run", action="store_true",
                     help="with --hosts: preflight, print every change the run would make, stop")
    run.add_argument("--reconnect-s", type=float, metavar="SECONDS",
                     help="with --hosts: how long a lost host is waited for before the run stops, "
                          "resumable (default 60)")
    run.add_argument("--store", type=_path, metavar="DIR",
                     help="with several --kernel: the history store the runs go to "
                          "(default: reports/history)")

    lst = sub.add_parser("list", help="list scenarios and suites")
    lst.add_argument("--scenario-file", action="append", default=[], metavar="PATH")

    doc = sub.add_parser("doctor", help="show what this kernel and machine offer")
    _plan_args(doc)
    _verbose_arg(doc)

    cln = sub.add_parser("clean", help="remove namespaces and processes a killed run left")
    _verbose_arg(cln)
    cln.add_argument("--kernels", action="store_true",
                     help="also empty the kernel cache (Debian kernels fetched for the VM lane)")
    cln.add_argument("--hosts", type=_path, metavar="INVENTORY",
                     help="on these hosts instead: restore MPTCP endpoints a killed run changed "
                          "and end its workers")

    opts = sub.add_parser("options", help="which socket options MPTCP supports here, against TCP")
    opts.add_argument("--json", action="store_true",
                      help="every probe's raw result (set, errno, read back) and the verdicts")

    vm = sub.add_parser("vm", help="run a command inside the VM lane (e.g. the netem tests)")
    _vm_args(vm, "kernel image to boot (vmlinuz path; auto: the newest in /boot; "
             "debian:6.1, debian:6.12, debian:unstable or debian:<version>: fetched from "
             "Debian's archive into the kernel cache)", default="auto")
    vm.add_argument("vm_command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")

    rep = sub.add_parser("report", help="re-render report.md and report.html of a run directory")
    rep.add_argument("run_dir", type=_path)

    cmp = sub.add_parser("compare", help="compare a candidate run with a base run")
    _compare_args(cmp)
    gt = sub.add_parser("gate", help="exit 1 when the candidate run regressed against the base "
                        "run, or against the history with --history",
                        usage="python -m bench gate [options] BASE CAND | --history STORE CAND")
    gt.add_argument("runs", type=_path, nargs="+", metavar="RUN_DIR",
                    help="BASE CAND, or only CAND with --history")
    gt.add_argument("--history", type=_path, metavar="STORE",
                    help="judge CAND against the recent comparable runs of this history store "
                         "(docs/history.md) instead of one base run")
    gt.add_argument("--json", action="store_true", help="machine-readable output")
    gt.add_argument("--force", action="store_true",
                    help="compare even when the runs measured different things")
    gt.add_argument("--max-regression", action="append", default=[], metavar="METRIC=PCT",
                    help="tolerated regression of a metric in percent, or METRIC=off "
                         "(repeatable; defaults: " + ", ".join(
                             f"{m}={p:g}" for m, p in default_thresholds().items() if p) + ")")

    hist = sub.add_parser("history", help="the history store of runs: add, list, remove")
    hsub = hist.add_subparsers(dest="history_command", required=True, metavar="ACTION")
    hadd = hsub.add_parser("add", help="add run directories (a run already there is left as is)")
    hadd.add_argument("run_dirs", type=_path, nargs="+", metavar="RUN_DIR")
    hlist = hsub.add_parser("list", help="the store's runs, oldest first")
    hrm = hsub.add_parser("remove", help="remove runs by run id")
    hrm.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    for p in (hadd, hlist, hrm):
        _store_arg(p)

    tr = sub.add_parser("trend", help="change points of every series in the history store")
    _store_arg(tr)
    tr.add_argument("--scenario", action="append", default=[], metavar="NAME",
                    help="only this scenario (repeatable)")
    tr.add_argument("--metric", action="append", default=[], metavar="METRIC",
                    help="only this metric (repeatable; default: the headline and gated ones)")
    tr.add_argument("--html", type=_path, metavar="OUT", help="also write the dashboard page to OUT")
    tr.add_argument("--json", action="store_true", help="machine-readable output")

    exp = sub.add_parser("export", help="export a run for pyperf, as CSV or as Parquet")
    exp.add_argument("run_dir", type=_path)
    exp.add_argument("--pyperf", action="store_true", help="pyperf JSON (pyperf compare_to/stats/hist)")
    exp.add_argument("--csv", action="store_true", help="tidy CSV tables")
    exp.add_argument("--parquet", action="store_true", help="tidy Parquet tables")
    exp.add_argument("--out", type=_path, metavar="DIR", help="default: RUN_DIR/export")
    return ap


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", type=_path, metavar="DIR",
                   help="history store directory (default: reports/history)")


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", type=_path, metavar="BASE", help="base run directory")
    p.add_argument("cand", type=_path, metavar="CAND", help="candidate run directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--force", action="store_true",
                   help="compare even when the runs measured different things")


PLAN_OPTIONS = ("suite", "scenario", "scenario_file", "repeat", "warmup", "duration", "driver",
                "out", "kernel", "kvm", "vm_timeout", "profile", "store",
                "delay_backend", "hosts", "reconnect_s")


def cmd_run(args, console: Console) -> int:
    from bench.record import cpu_fields
    from bench.run import orchestrator
    from bench.run.plan import build_plan
    from bench.run.progress import RunProgress
    from bench.run.rundir import RunDir, check_writable, new_run_id
    if args.resume:
        return cmd_resume(args, console)
    catalog = Catalog(args.scenario_file)
    plan = build_plan(catalog, args.suite, args.scenario, args.repeat, args.warmup,
                      args.duration, args.driver, args.scenario_file, profile=args.profile,
                      delay_backend=args.delay_backend, retries=args.retries,
                      quiet_machine=args.quiet_machine,
                      disturbed_above=(args.disturbed_above / 100 if args.disturbed_above is not None
                                       else cpu_fields.default_limit()))
    kernels = args.kernel or []
    if kernels:
        from bench.lanes import vmlane
        for kernel in kernels:
            vmlane.check_kernel(kernel)
    out = args.out or Path("reports")
    check_writable(out)
    if args.store and len(kernels) < 2:
        raise InputError("--store goes with several --kernel (a kernel matrix); add runs to a "
                         "store with `bench history add`")
    if len(kernels) > 1:
        from bench.history.store import DEFAULT
        from bench.lanes import matrix
        matrix.check(kernels)
        argv = _argv_without(sys.argv[1:], ("--kernel", "--out", "--store"))
        return matrix.run(kernels, argv, out.resolve(), args.store or DEFAULT, console)
    if kernels and kernels[0] != "host":
        return _run_in_vm(args, kernels[0], plan, out)
    if args.hosts:
        return _run_on_hosts(args, plan, out, console)
    if args.dry_run or args.use_host_config or args.reconnect_s is not None:
        raise InputError("--dry-run, --use-host-config and --reconnect-s go with --hosts INVENTORY")
    run = orchestrator.Run(plan, RunDir(out, new_run_id()), RunProgress(console), sys.argv)
    return run.run()


def _run_on_hosts(args, plan, out: Path, console: Console) -> int:
    from bench.hosts import run as hosts
    from bench.run.progress import RunProgress
    from bench.run.rundir import RunDir, new_run_id
    if args.kernel or args.profile:
        raise InputError("--hosts runs on the hosts' own kernels; drop --kernel and --profile")
    if args.reconnect_s is not None and args.reconnect_s <= 0:
        raise InputError("--reconnect-s takes a number of seconds above 0")
    plan, lane = hosts.prepare(plan, args.hosts, args.use_host_config,
                               *(() if args.reconnect_s is None else (args.reconnect_s,)))
    if args.dry_run:
        return hosts.dry_run(plan, lane)
    run = hosts.HostsRun(plan, RunDir(out, new_run_id()), RunProgress(console), sys.argv)
    run.lane = lane
    return run.run()


def cmd_resume(args, console: Console) -> int:
    from bench.run import resume
    from bench.run.progress import RunProgress
    given = [f"--{k.replace('_', '-')}" for k in PLAN_OPTIONS if getattr(args, k)]
    if given:
        raise InputError(f"--resume takes its plan and directory from the run; drop "
                         f"{', '.join(given)}")
    return resume.prepare(args.resume, RunProgress(console), sys.argv).run()


def _argv_without(argv: list[str], options: tuple[str, ...], flags: tuple[str, ...] = ()) -> list[str]:
    """argv minus `options` (with their values) and `flags`."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        elif arg in flags or arg.startswith(tuple(f"{o}=" for o in options)):
            continue
        else:
            out.append(arg)
    return out


def _run_in_vm(args, kernel: str, plan, out: Path) -> int:
    """Re-run this very command inside the VM, minus the VM options; the
    host renders its report from the results the guest wrote."""
    from bench import analysis, report
    from bench.lanes import new_run_dirs, vmlane
    out.mkdir(parents=True, exist_ok=True)
    argv = _argv_without(sys.argv[1:], ("--kernel", "--vm-timeout", "--out"), ("--kvm",))
    argv += ["--out", str(out.resolve())]
    timeout = args.vm_timeout or plan.estimate_s() * (1 if args.kvm else vmlane.EMULATION_SLOWDOWN) + 120
    with new_run_dirs(out) as new:
        rc = vmlane.boot(kernel, [sys.executable, "-m", "bench", *argv], [out.resolve()],
                         timeout, kvm=args.kvm, report_on_host=True)
    for directory in new:   # the guest wrote its results
        for path in report.write(analysis.open_run(directory)):
            print(f"wrote {path}")
    return rc


def cmd_vm(args, console: Console) -> int:
    from bench.lanes import vmlane
    command = args.vm_command[1:] if args.vm_command[:1] == ["--"] else args.vm_command
    if not command:
        raise InputError("give the command to run in the VM after --, e.g. "
                         "`python -m bench vm -- .venv/bin/python -m pytest tests/vm`")
    return vmlane.boot(args.kernel, command, [], args.vm_timeout or 1800, kvm=args.kvm)


def cmd_list(args, console: Console) -> int:
    catalog = Catalog(args.scenario_file)
    t = Table(title="scenarios")
    for col in ("name", "links", "protocols", "description"):
        t.add_column(col)
    for name, s in sorted(catalog.scenarios.items()):
        links = ", ".join(_link_text(l) for l in s.links)
        t.add_row(name, links, "/".join(s.protocols), s.description)
    console.print(t)
    t = Table(title="suites")
    for col in ("name", "scenarios", "repeat", "duration", "description"):
        t.add_column(col)
    for name, s in sorted(catalog.suites.items()):
        t.add_row(name, ", ".join(s.scenarios), str(s.repeat),
                  f"{s.duration_s:g} s" if s.duration_s else "per scenario", s.description)
    console.print(t)
    return EXIT_OK


def _link_text(link) -> str:
    spec = link.spec()
    rate = (f"{spec.rate_up_mbit:g}/{spec.rate_down_mbit:g} Mbit" if spec.rate_up_mbit
            else "unshaped")
    extra = [f"loss {spec.loss_up_pct:g}%" if spec.loss_up_pct else "",
             f"delay {spec.delay_ms:g} ms" if spec.delay_ms else "",
             f"jitter {spec.jitter_ms:g} ms{' reordering' if spec.reorder else ''}"
             if spec.jitter_ms else ""]
    return " ".join([rate, *filter(None, extra)])


def cmd_doctor(args, console: Console) -> int:
    from bench import doctor
    from bench.run.plan import build_plan
    catalog = Catalog(args.scenario_file)
    plan = build_plan(catalog, args.suite, args.scenario, None, None, None)
    doctor.run(plan, console)
    return EXIT_OK


def cmd_options(args, console: Console) -> int:
    from bench import doctor
    from harness.measure import sockopts
    results = sockopts.probe()
    matrix = sockopts.matrix(results)
    if args.json:
        print(json.dumps({"kernel": os.uname().release, "verdicts": matrix, "probes": results},
                         indent=1))
    else:
        console.print(doctor.options_table(matrix))
        console.print(doctor.options_summary(matrix))
    return EXIT_OK


def cmd_clean(args, console: Console) -> int:
    from harness import cleanup
    if args.hosts:
        from bench.hosts import clean
        for line in clean.clean(args.hosts):
            console.print(line)
        return EXIT_OK
    if args.kernels:
        from harness.host import kernelcache
        freed = kernelcache.clear()
        console.print(f"emptied the kernel cache {kernelcache.cache_dir()} ({freed / 1e6:.0f} MB)")
    done = cleanup.clean()
    console.print(f"removed {len(done['namespaces'])} namespace(s) "
                  f"{' '.join(done['namespaces'])}; ended {len(done['processes'])} process(es)")
    if done["cgroups"]:
        console.print(f"removed {len(done['cgroups'])} cgroup(s) {' '.join(done['cgroups'])}")
    if done["skipped_live"]:
        console.print(f"left {len(done['skipped_live'])} namespace(s) of runs still going: "
                      f"{' '.join(done['skipped_live'])}")
    return EXIT_OK


def cmd_report(args, console: Console) -> int:
    from bench import analysis, report
    run = analysis.open_run(args.run_dir)
    for path in report.write(run):
        console.print(f"wrote {path}")
    return EXIT_OK


def cmd_compare(args, console: Console) -> int:
    from bench.analysis import compare, gate, open_run
    c = compare.compare(open_run(args.base), open_run(args.cand))
    if args.json:
        print(json.dumps(compare.as_json(c), indent=1))
    else:
        print("\n".join(compare.lines(c)))
    if c.incomparable and not args.force:
        # On stderr with --json too: exit 2 always comes with its sentence.
        print("cannot compare: the runs differ in what was measured (INCOMPARABLE "
              f"{'in the JSON' if args.json else 'above'}); pass --force to compare anyway",
              file=sys.stderr)
        return gate.INCOMPARABLE
    return EXIT_OK


def cmd_gate(args, console: Console) -> int:
    from bench.analysis import compare, gate, open_run
    if args.history:
        return _history_gate(args)
    if len(args.runs) != 2:
        raise InputError(f"gate takes BASE and CAND run directories (got {len(args.runs)}), or "
                         "--history STORE and CAND")
    thresholds = gate.parse_thresholds(args.max_regression)
    c = compare.compare(open_run(args.runs[0]), open_run(args.runs[1]))
    result = gate.evaluate(c, thresholds, force=args.force)
    if args.json:
        print(json.dumps(result.as_json(c, thresholds), indent=1))
    else:
        print("\n".join(result.lines))
    return result.status


def _history_gate(args) -> int:
    from bench.analysis import open_run
    from bench.history import gate as hgate
    from bench.history.store import Store
    if len(args.runs) != 1:
        raise InputError(f"gate --history takes one candidate run directory (got {len(args.runs)})")
    if args.force:
        raise InputError("gate --history compares only comparable runs; --force does not apply")
    floors = hgate.parse_floors(args.max_regression)
    cand = open_run(args.runs[0])
    with Store(args.history) as store:
        result = hgate.evaluate(store, cand, floors)
    if args.json:
        print(json.dumps(result.as_json(), indent=1, default=float))
    else:
        print("\n".join(result.lines))
    return result.status


def cmd_history(args, console: Console) -> int:
    from bench.analysis import open_run
    from bench.history.store import DEFAULT, Store
    directory = args.store or DEFAULT
    if args.history_command == "add":
        runs = [open_run(d) for d in args.run_dirs]      # all readable before any is added
        with Store(directory, create=True) as store:
            for d, run in zip(args.run_dirs, runs):
                added = store.add(run)
                console.print(f"{'added' if added else 'already in the store'}: {run.run_id} ({d})")
        return EXIT_OK
    with Store(directory) as store:
        if args.history_command == "remove":
            missing = store.remove(args.run_ids)
            if missing:
                raise InputError(f"not in the store {directory}: {', '.join(missing)} "
                                 "(`bench history list` shows its run ids)")
            console.print(f"removed {len(args.run_ids)} run(s)")
            return EXIT_OK
        runs = store.runs()
    table = Table("run id", "started", "suite", "kernel", "revision", "machine", "lane", "state")
    for r in runs.itertuples():
        table.add_row(r.run_id, r.started or "", r.suite or "", r.kernel or "",
                      (r.git_revision or "")[:10], r.machine, r.lane, r.state or "")
    console.print(table)
    console.print(f"{len(runs)} run(s) in {directory}")
    return EXIT_OK


def cmd_trend(args, console: Console) -> int:
    from bench.analysis.metrics import METRICS
    from bench.history import dashboard, series, trend
    from bench.history.store import DEFAULT, Store
    unknown = [m for m in args.metric if m not in METRICS]
    if unknown:
        raise InputError(f"--metric {unknown[0]!r}: not a metric; one of {', '.join(METRICS)}")
    directory = args.store or DEFAULT
    with Store(directory) as store:
        found = trend.trends(store, args.scenario, tuple(args.metric) or series.DEFAULT_METRICS)
        n_runs = len(store.runs())
    if args.json:
        print(json.dumps([t.as_json() for t in found], indent=1, default=float))
    else:
        for t in found:
            print("\n".join(t.lines()))
        print(f"{len(found)} series from {n_runs} run(s) in {directory}")
    if args.html:
        wrote = dashboard.write(found, args.html, str(directory), n_runs)
        print(f"wrote {wrote}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def cmd_export(args, console: Console) -> int:
    from bench.analysis import export, open_run
    formats = [f for f in ("pyperf", "csv", "parquet") if getattr(args, f)]
    if not formats:
        raise InputError("export needs at least one of --pyperf, --csv, --parquet")
    if "parquet" in formats and importlib.util.find_spec("pyarrow") is None:
        raise InputError("export --parquet needs pyarrow, which is not installed: "
                         "pip install 'mptcp-bench[parquet]' (or pyarrow), or use --csv")
    run = open_run(args.run_dir)
    for path in export.write(run, formats, args.out or args.run_dir / "export"):
        console.print(f"wrote {path}")
    return EXIT_OK


COMMANDS = {"run": cmd_run, "list": cmd_list, "doctor": cmd_doctor, "clean": cmd_clean,
            "options": cmd_options,
            "report": cmd_report, "vm": cmd_vm, "compare": cmd_compare, "gate": cmd_gate,
            "export": cmd_export, "history": cmd_history, "trend": cmd_trend}


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:     # usage error (2), --help or --version (0)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    err = term.console(stderr=True, soft_wrap=True)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(name)s: %(message)s", stream=sys.stderr)
    # A library's warnings (deprecations at import, mostly) are not the user's output:
    # they go to the log, which -v shows, never as lines before a one-sentence error.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if verbose else logging.CRITICAL)
    # Tables are output (stdout); a run's progress and errors go to stderr.
    console = err if args.command == "run" else term.console()
    try:
        return COMMANDS[args.command](args, console)
    except (InputError, HarnessError) as exc:
        err.print(Text.assemble(("error:", "red"), f" {exc}"))
        return EXIT_BAD_INPUT
    except subprocess.TimeoutExpired as exc:
        err.print(f"error: {_command(exc.cmd)} gave no answer within {exc.timeout:g} s; check "
                  "that the machine is not overloaded and try again")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:     # before a run's own signal handling is in place
        err.print("interrupted")
        return 128 + signal.SIGINT


def _command(cmd) -> str:
    words = [str(c) for c in cmd] if isinstance(cmd, (list, tuple)) else [str(cmd)]
    if words[:1] == ["nsenter"] and "--" in words:     # netns.command(): name the tool
        words = words[words.index("--") + 1:]
        return f"`{' '.join(words)[:80]}` (in a namespace)"
    return f"`{' '.join(words)[:80]}`"


if __name__ == "__main__":
    sys.exit(main())
