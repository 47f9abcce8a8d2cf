"""README: "every file a run writes is inside its run directory".  The run
is traced (strace, every process it starts): each file or directory it
created, opened for writing, renamed or linked must be inside its run
directory, or one of the few things outside it that a run is documented
to touch."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import installed
import matplotlib
from clirun import ROOT, bench

from harness import ownership

SYSCALLS = ("open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,"
            "symlink,symlinkat,truncate")
WRITING = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")
CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+)")
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\d+<([^>]*)>|(AT_FDCWD)')
# (index of the directory fd or None, index of the path) among the tokens.
WHERE = {"open": (None, 0), "creat": (None, 0), "mkdir": (None, 0), "truncate": (None, 0),
         "openat": (0, 1), "openat2": (0, 1), "mkdirat": (0, 1),
         "rename": (None, 1), "link": (None, 1), "symlink": (None, 1),
         "renameat": (2, 3), "renameat2": (2, 3), "linkat": (2, 3), "symlinkat": (1, 2)}


def written(trace_dir: Path, cwd: Path) -> set[Path]:
    """Every path a traced process wrote, created, renamed or linked to."""
    out = set()
    for trace in trace_dir.glob("trace.*"):
        for line in trace.read_text(errors="replace").splitlines():
            call = CALL.match(line)
            if not call or int(call[3]) < 0:
                continue
            name, args = call[1], call[2]
            if name.startswith("open") and not any(f in args for f in WRITING):
                continue
            tokens = [m[1] if m[1] is not None else m[2] or m[3] for m in TOKEN.finditer(args)]
            fd, where = WHERE[name]
            base = cwd if fd is None or tokens[fd] == "AT_FDCWD" else Path(tokens[fd])
            out.add(Path(os.path.normpath(base / tokens[where])))
    return out


def allowed(run: Path, out: Path) -> list[Path]:
    """What a run may touch outside its directory: the out directory itself
    and its `latest` pointer (README), kernel interfaces, the namespace
    mounts and run registry it removes again, this session's run lock, and
    matplotlib's own font cache."""
    return [run, out / "latest", Path("/proc"), Path("/sys"), Path("/dev"),
            Path("/run/netns"), Path("/var/run/netns"), Path(ownership.RUNS_DIR),
            Path(ownership.lock_path()), Path(matplotlib.get_cachedir()),
            Path(matplotlib.get_configdir())]


def test_every_file_a_run_writes_is_inside_its_run_directory(tmp_path, write_defs):
    installed.require(shutil.which("strace") is not None,
                      "strace is not installed (`make test` installs it)")
    defs = write_defs('[scenario.w]\ndescription = "d"\nlinks = [{ rate_mbit = 100 }]\n')
    out, traces = tmp_path / "reports", tmp_path / "traces"
    traces.mkdir()
    proc = bench("run", "--scenario-file", defs, "--scenario", "w", "--repeat", 1, "--warmup", 0,
                 "--duration", 1, "--driver", "native", "--driver", "iperf3", "--out", out,
                 wrap=["strace", "-f", "-ff", "-qq", "-y", "--seccomp-bpf", "-e",
                       f"trace={SYSCALLS}", "-o", str(traces / "trace")],
                 env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr
    run = (out / "latest").resolve()
    paths = written(traces, ROOT)
    assert run / "results.json" in paths and run / "report.html" in paths   # the trace works
    fine = allowed(run, out)
    outside = sorted(p for p in paths if p != out and not any(p == a or a in p.parents
                                                                 for a in fine)
                     and not (p.parent == out and p.name.startswith(".latest.tmp-"))
                     and not _iperf3_buffer(p))
    assert not outside, outside


def _iperf3_buffer(path: Path) -> bool:
    """iperf3 backs its send buffer with a file it makes in TMPDIR and
    unlinks at once: gone when the run ends, it is iperf3's, not a result."""
    return re.fullmatch(r"iperf3\.\w{6}", path.name) is not None and not path.exists()
