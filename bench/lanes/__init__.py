"""Where a run runs besides this host: the VM lane (netem, another kernel)
and the kernel matrix across lanes (docs/vm-lane.md)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from bench.results_format import RESULTS


@contextmanager
def new_run_dirs(out: Path):
    """Around a run in a child process (or a VM) that writes into `out`: a
    list that, once the block ends, holds the run directories it added, in
    name order (a run id starts with its time)."""
    def run_dirs() -> set[Path]:
        return {d for d in out.iterdir() if d.is_dir() and not d.is_symlink() and (d / RESULTS).is_file()}
    before, new = run_dirs(), []
    yield new
    new.extend(sorted(run_dirs() - before))
