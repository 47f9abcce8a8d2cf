"""bench run --kernel A --kernel B: the same suite under each kernel in
turn ("host" is the running kernel, anything else boots in the VM lane),
then one comparison across them (bench.report.kernel_matrix), and every
run added to the history store."""
from __future__ import annotations

import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import EXIT_BAD_INPUT, EXIT_OK, InputError
from bench.results_format import RESULTS, write_atomic
from harness.host.procs import dying_with_parent

HOST = "host"


def check(kernels: list[str]) -> None:
    if len(set(kernels)) != len(kernels):
        raise InputError(f"--kernel {', '.join(kernels)}: a kernel is given twice; give each once")


def _run_dirs(out: Path) -> set[Path]:
    return {d for d in out.iterdir() if d.is_dir() and not d.is_symlink() and (d / RESULTS).is_file()}


def _run(cmd: list[str]) -> int:
    """One kernel's run.  It gets SIGTERM if we die, however; on Ctrl-C it is
    interrupted like any run (it writes its report and removes what it made)
    and we wait for that instead of killing it."""
    proc = subprocess.Popen(dying_with_parent(cmd, "TERM"))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        proc.wait()
        raise


def run(kernels: list[str], argv: list[str], out: Path, store: Path, console) -> int:
    """`argv`: the command line's arguments (from `run` on) without
    --kernel, --out and --store."""
    from bench.analysis import open_run
    from bench.history.store import Store
    from bench.report import html_page, kernel_matrix
    out.mkdir(parents=True, exist_ok=True)
    runs, failed, worst = [], [], EXIT_OK
    for kernel in kernels:
        before = _run_dirs(out)
        cmd = [sys.executable, "-m", "bench", *argv, "--out", str(out)]
        cmd += [] if kernel == HOST else ["--kernel", kernel]
        console.print(f"kernel {kernel}: {' '.join(cmd[1:])}")
        rc = _run(cmd)
        new = sorted(_run_dirs(out) - before)
        if rc == EXIT_BAD_INPUT or not new:
            failed.append(f"{kernel} (exit {rc})")
            continue
        runs.append(open_run(new[-1]))
        worst = max(worst, rc)          # 1: a failed trial or scenario, shown in the matrix
    if len(runs) < 2:
        console.print(f"kernel matrix: fewer than two kernels ran ({', '.join(failed)} did not); "
                      "no comparison written")
        return EXIT_BAD_INPUT
    directory = out / f"matrix-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"
    directory.mkdir()
    text = kernel_matrix.markdown(runs)
    write_atomic(directory / "matrix.md", text)
    write_atomic(directory / "matrix.html", html_page.render(text, {}, "mptcp-bench kernel matrix"))
    with Store(store, create=True) as s:
        for r in runs:
            s.add(r)
    console.print(f"kernel matrix: {directory / 'matrix.md'} (and .html); "
                  f"{len(runs)} run(s) added to the history store {store}")
    if failed:
        console.print(f"kernel matrix: did not run under {', '.join(failed)}")
        return EXIT_BAD_INPUT
    return worst
