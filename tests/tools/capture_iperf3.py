"""Capture iperf3 runs through the iperf3 driver, for the unit tests:
TCP, MPTCP and an MPTCP client against a plain-TCP server (a fallback),
2 s each over two 50 Mbit/s links.  Writes, into tests/data/iperf3/:
  <case>.json      the client's JSON (-J --get-server-output), as iperf3 wrote it
  raw-trials.json  the raw results trialrun returned (sock_diag views, MIB deltas…)

    sudo .venv/bin/python tests/tools/capture_iperf3.py tests/data/iperf3/
"""
import json
import os
import sys

from harness.net.spec import LinkSpec, TopologySpec
from harness.net.topology import Topology
from harness.traffic import drivers, trialrun
from harness.traffic.site import LocalSite

CASES = {"tcp": ("tcp", None), "mptcp": ("mptcp", None), "fallback": ("mptcp", "tcp")}


def main(outdir: str) -> None:
    links = (LinkSpec(rate_up_mbit=50, rate_down_mbit=50),) * 2
    spec = TopologySpec(links=links, endpoints=TopologySpec.default_endpoints(2), families=(4,))
    driver = drivers.get("iperf3")
    raws = {}
    with Topology(spec, prefix=f"mpb-capture{os.getpid()}") as topo:
        for case, (proto, server_proto) in CASES.items():
            params = drivers.TrialParams(protocol=proto, server_protocol=server_proto,
                                         duration_s=2.0, cpu_sender=0, cpu_receiver=1)
            raws[case] = trialrun.run_trial(driver, LocalSite(topo), params)
            with open(os.path.join(outdir, f"{case}.json"), "w") as f:
                json.dump(driver.last_document, f, indent=1)
    with open(os.path.join(outdir, "raw-trials.json"), "w") as f:
        json.dump(raws, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
