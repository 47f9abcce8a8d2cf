"""bench run --kernel A --kernel B: the same suite under each kernel in
turn ("host" is the running kernel, anything else boots in the VM lane),
then one comparison across them (bench.report.kernel_matrix), and every
run added to the history store."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import EXIT_BAD_INPUT, EXIT_OK, InputError
from bench.lanes import new_run_dirs, vmlane
from bench.report import kernel_matrix
from bench.results_format import write_atomic
from harness.errors import HarnessError
from harness.host import kernelcache
from harness.host.procs import dying_with_parent

HOST = "host"


def check(kernels: list[str]) -> None:
    if len(set(kernels)) != len(kernels):
        raise InputError(f"--kernel {', '.join(kernels)}: a kernel is given twice; give each once")
    for kernel in kernels:
        vmlane.check_kernel(kernel)


def _run(cmd: list[str]) -> tuple[int, str]:
    """One kernel's run: its exit status and the last error it printed.  It
    gets SIGTERM if we die, however; on Ctrl-C it is interrupted like any run
    (it writes its report and removes what it made) and we wait for that
    instead of killing it."""
    proc = subprocess.Popen(dying_with_parent(cmd, "TERM"), stderr=subprocess.PIPE)
    last = []
    relay = threading.Thread(target=_relay_errors, args=(proc.stderr, last), daemon=True)
    relay.start()
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        proc.wait()
        raise
    finally:
        relay.join(timeout=5)
    return rc, (last[-1] if last else "")


def _relay_errors(stream, last: list[str]) -> None:
    """Copy a child's stderr to ours, keeping its last `error:` line."""
    for raw in stream:
        sys.stderr.buffer.write(raw)
        sys.stderr.flush()
        line = raw.decode(errors="replace").strip()
        if line.startswith("error:"):
            last.append(line[len("error:"):].strip())


def _fetch(kernel: str) -> tuple[str, str | None]:
    """Fetch a `debian:` kernel before its run: the kernel to give the run,
    and why it cannot be had, or None.  A `debian:` name is given as the
    version fetched, which the run finds in the cache: it does not ask the
    archive again, where a suite name may mean a newer version by then."""
    if not kernelcache.is_name(kernel):
        return kernel, None
    try:
        _, debian = vmlane.find_kernel(kernel)
    except HarnessError as exc:
        return kernel, str(exc)
    return kernelcache.PREFIX + debian["version"], None


def run(kernels: list[str], argv: list[str], out: Path, store: Path, console) -> int:
    """`argv`: the command line's arguments (from `run` on) without
    --kernel, --out and --store."""
    from bench.analysis import open_run
    from bench.history.store import Store
    from bench.report import html_page
    out.mkdir(parents=True, exist_ok=True)
    runs, failed, worst = [], [], EXIT_OK
    for kernel in kernels:
        given, why = _fetch(kernel)
        if why:
            console.print(f"kernel {kernel}: not run: {why}")
            failed.append(kernel_matrix.Missing(kernel, f"not fetched: {why}"))
            continue
        cmd = [sys.executable, "-m", "bench", *argv, "--out", str(out)]
        cmd += [] if kernel == HOST else ["--kernel", given]
        console.print(f"kernel {kernel}: {' '.join(cmd[1:])}")
        with new_run_dirs(out) as new:
            rc, error = _run(cmd)
        if rc == EXIT_BAD_INPUT or not new:
            failed.append(kernel_matrix.Missing(kernel, f"did not run (exit {rc})"
                                                + (f": {error}" if error else "")))
            continue
        runs.append(open_run(new[-1]))
        worst = max(worst, rc)          # 1: a failed trial or scenario, shown in the matrix
    if len(runs) < 2:
        console.print("kernel matrix: fewer than two kernels ran ("
                      f"{'; '.join(f'{m.label}: {m.reason}' for m in failed)}); no comparison written")
        return EXIT_BAD_INPUT
    directory = out / f"matrix-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"
    directory.mkdir()
    text = kernel_matrix.markdown(runs, failed)
    write_atomic(directory / "matrix.md", text)
    write_atomic(directory / "matrix.html", html_page.render(text, {}, "mptcp-bench kernel matrix"))
    with Store(store, create=True) as s:
        for r in runs:
            s.add(r)
    console.print(f"kernel matrix: {directory / 'matrix.md'} (and .html); "
                  f"{len(runs)} run(s) added to the history store {store}")
    if failed:
        console.print(f"kernel matrix: did not run under {', '.join(m.label for m in failed)}")
        return EXIT_BAD_INPUT
    return worst
