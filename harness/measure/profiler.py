"""Whole-machine CPU profiles of a trial with perf (Debian's linux-perf):
`perf record -a -g` on software cpu-clock events, which work where hardware
counters do not, then the samples folded into stacks.

Sampling covers every CPU, so the kernel's receive path (softirq on
whichever CPU) is seen wherever it runs.  Idle samples (the swapper task
outside any interrupt: softirq work done on an idle CPU is work) are
counted apart, never as a symbol's share.
"""
from __future__ import annotations

import logging
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

from harness.errors import CapabilityError

log = logging.getLogger(__name__)
FREQUENCY_HZ = 997          # prime: no lockstep with 1 kHz timers
IDLE_COMMS = {"swapper"}
FIX = "install Debian's linux-perf, or run without --profile"


def check() -> None:
    """CapabilityError unless perf can sample cpu-clock on every CPU."""
    perf = shutil.which("perf")
    if perf is None:
        raise CapabilityError(f"--profile needs perf, which is not on PATH: {FIX}")
    try:
        probe = subprocess.run([perf, "record", "-a", "-e", "cpu-clock", "-o", "/dev/null",
                                "--quiet", "--", "true"], capture_output=True, text=True,
                               timeout=30)
    except subprocess.TimeoutExpired:
        raise CapabilityError(f"--profile: perf did not answer within 30 s; {FIX}") from None
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise CapabilityError(f"--profile: perf cannot sample this machine ({reason}); {FIX}")


class SystemProfile:
    """perf record on all CPUs for the duration of a `with` block."""

    def __init__(self, out: Path):
        self.out = Path(out)

    def __enter__(self) -> "SystemProfile":
        self.proc = subprocess.Popen(
            ["perf", "record", "-a", "-g", "-e", "cpu-clock", "-F", str(FREQUENCY_HZ),
             "-o", str(self.out), "--quiet"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log.info("started perf record, pid %d", self.proc.pid)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.send_signal(signal.SIGINT)      # perf writes its file on SIGINT
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        log.info("ended perf record, pid %d", self.proc.pid)


def fold(data: Path) -> dict[str, int]:
    """Samples of a perf.data file as folded stacks: `comm;root;...;leaf`."""
    text = subprocess.run(["perf", "script", "-i", str(data), "-F", "comm,ip,sym"],
                          capture_output=True, text=True, timeout=300).stdout
    return fold_script(text)


def fold_script(text: str) -> dict[str, int]:
    """`perf script -F comm,ip,sym` output (a comm line, then one frame per line,
    leaf first; a blank line between samples) as folded stacks."""
    stacks: Counter[str] = Counter()
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines()]
        if not lines:
            continue
        frames = [_symbol(line) for line in lines[1:]]
        stacks[";".join([lines[0], *reversed(frames)] if frames else [lines[0], "[unknown]"])] += 1
    return dict(stacks)


def _symbol(frame: str) -> str:
    # "tcp_sendmsg" or "ffffffff8123 tcp_sendmsg" or "[unknown]"
    return frame.split(None, 1)[-1].replace(";", ":") or "[unknown]"


def is_idle(stack: str) -> bool:
    comm, _, frames = stack.partition(";")
    return comm in IDLE_COMMS and "irq" not in frames


def summary(stacks: dict[str, int], top: int = 80) -> dict:
    """Busy and idle sample counts, and the busiest leaf symbols (self time)."""
    busy = {s: n for s, n in stacks.items() if not is_idle(s)}
    leaves: Counter[str] = Counter()
    for stack, n in busy.items():
        leaves[stack.rsplit(";", 1)[-1]] += n
    return {"samples": sum(busy.values()), "idle_samples": sum(stacks.values()) - sum(busy.values()),
            "frequency_hz": FREQUENCY_HZ, "self": dict(leaves.most_common(top))}
