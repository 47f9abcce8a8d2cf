"""The host delay line (harness.net.delayline) on a router host, started
by the controller under a lease (harness.agents.leased): the same C loop,
in the host's own namespace.

    python -m harness.agents.delayhost '{"queues": [[num, delay_ns, jitter_ns, reorder, table]], "seed": N}'

Its first line is {"event": "started", "pid": PID} — the controller asks
for counters with `hostctl delayline-stats PID` (SIGUSR1) — then the
loop's own {"event": "ready"}, {"event": "stats"} ... lines.  The NFQUEUE
rules are hostctl's (links-apply), added once the queues are bound.
"""
from __future__ import annotations

import json
import os
import signal
import sys

from harness.net import delayline


def main(argv: list[str]) -> int:
    try:
        from harness import _delayline, _engine  # noqa: F401  (the loop is built here)
    except ImportError as exc:
        print(f"the delay line is not built here ({exc}): install libnetfilter-queue1 and "
              "libmnl0 (to build it here, libnetfilter-queue-dev libmnl-dev)", file=sys.stderr)
        return 3
    cfg = json.loads(argv[1])
    _engine.set_pdeathsig(signal.SIGKILL)
    print(json.dumps({"event": "started", "pid": os.getpid()}), flush=True)
    return delayline.run_loop(cfg["queues"], cfg["seed"])   # as on a local router


if __name__ == "__main__":
    sys.exit(main(sys.argv))
