"""Capture raw driver results of real trials (TCP and MPTCP over two 50
Mbit/s links, 1 s each) and the /proc texts the parsers read, for the unit
tests (tests/data/raw-trials.json, proc-*.txt).

    sudo .venv/bin/python tests/tools/capture_trials.py tests/data/
"""
import json
import os
import sys

from harness.host import netns
from harness.net.spec import LinkSpec, TopologySpec
from harness.net.topology import Topology
from harness.traffic import drivers, trialrun
from harness.traffic.site import LocalSite


def main(outdir: str) -> None:
    links = (LinkSpec(rate_up_mbit=50, rate_down_mbit=50),) * 2
    spec = TopologySpec(links=links, endpoints=TopologySpec.default_endpoints(2))
    driver = drivers.get("native")
    out = {}
    with Topology(spec, prefix=f"mpb-capture{os.getpid()}") as topo:
        for proto in ("tcp", "mptcp"):
            params = drivers.TrialParams(protocol=proto, duration_s=1.0, cpu_sender=0, cpu_receiver=1)
            out[proto] = trialrun.run_trial(driver, LocalSite(topo), params)
        netstat = netns.call_in(topo.ns("client"), lambda: open("/proc/thread-self/net/netstat").read())
    with open(os.path.join(outdir, "raw-trials.json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(outdir, "proc-netstat.txt"), "w") as f:
        f.write(netstat)
    with open(os.path.join(outdir, "proc-stat.txt"), "w") as f:
        f.write(open("/proc/stat").read())


if __name__ == "__main__":
    main(sys.argv[1])
