"""The sock_diag views of one iperf3 test, streamed from the host it runs
on to a controller elsewhere (bench.hosts), as the iperf3 driver samples
them locally:

    python -m harness.agents.diagwatch FAMILY PORT SIDE

JSON lines: {"event": "listening"} once a socket listens on PORT, then
{"event": "view", "view": {...}} each SAMPLE_S while a connection of the
test is seen (harness.measure.sockdiag.socket_view), until it is ended.
"""
from __future__ import annotations

import sys
import time

from harness.measure import sockdiag
from harness.traffic.workloads.common import emit

SAMPLE_S = 0.25


def main(argv: list[str]) -> int:
    family, port, side = int(argv[1]), int(argv[2]), argv[3]
    listening = False
    while True:
        if not listening and sockdiag.listening(None, family, port):
            listening = True
            emit("listening")
        view = sockdiag.socket_view(sockdiag.connections(None, family), port, side)
        if view:
            emit("view", view=view)
        time.sleep(SAMPLE_S if listening else 0.01)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
