"""Capture raw socket-introspection buffers from a live 2-link MPTCP
connection, for the parser tests (tests/data/sockinfo-<kernel>.json).

    sudo .venv/bin/python tests/tools/capture_sockinfo.py tests/data/
"""
import json
import os
import platform
import socket
import sys
import threading

from harness import _engine
from harness.host import netns, sockinfo
from harness.net.spec import LinkSpec, TopologySpec
from harness.net.topology import Topology


def main(outdir: str) -> None:
    spec = TopologySpec(links=(LinkSpec(), LinkSpec()), endpoints=TopologySpec.default_endpoints(2))
    with Topology(spec, prefix=f"mpb-capture{os.getpid()}") as topo:
        server = topo.server_address(4)
        lsock = netns.call_in(topo.ns("server"), socket.socket, socket.AF_INET,
                              socket.SOCK_STREAM, sockinfo.IPPROTO_MPTCP)
        lsock.bind((server, 0))
        lsock.listen(4)
        port = lsock.getsockname()[1]
        accepted = {}
        t = threading.Thread(target=lambda: accepted.update(conn=lsock.accept()[0]))
        t.start()
        csock = netns.call_in(topo.ns("client"), socket.socket, socket.AF_INET,
                              socket.SOCK_STREAM, sockinfo.IPPROTO_MPTCP)
        csock.bind((topo.client_address(4), 0))
        csock.connect((server, port))
        t.join()
        payload = b"x" * (4 << 20)
        reader = threading.Thread(target=lambda: [accepted["conn"].recv(1 << 20) for _ in range(64)])
        reader.start()
        import time
        time.sleep(0.5)   # let the join complete
        csock.sendall(payload)
        time.sleep(0.5)
        full = _engine.mptcp_full_info(csock.fileno())
        # The pre-6.9 pair (MPTCP_TCPINFO + MPTCP_SUBFLOW_ADDRS), read back to back.
        older = {name: _engine.mptcp_subflow_data(csock.fileno(), opt)
                 for name, opt in (("tcpinfo", sockinfo.MPTCP_TCPINFO),
                                   ("subflow_addrs", sockinfo.MPTCP_SUBFLOW_ADDRS))}
        doc = {
            "kernel": platform.release(),
            "client": f"{topo.client_address(4)}", "server": server, "port": port,
            "tcp_info": csock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512).hex(),
            "mptcp_info": csock.getsockopt(sockinfo.SOL_MPTCP, sockinfo.MPTCP_INFO, 256).hex(),
            "full_info": {**{k: v for k, v in full.items() if k not in ("mptcp_info", "subflows")},
                          "mptcp_info": full["mptcp_info"].hex(),
                          "subflows": [[a.hex(), b.hex()] for a, b in full["subflows"]]},
            "subflow_data": {name: {**{k: v for k, v in d.items() if k != "elements"},
                                    "elements": [e.hex() for e in d["elements"]]}
                             for name, d in older.items()},
            "bytes_sent": len(payload),
        }
        csock.close()
        reader.join(timeout=5)
        accepted["conn"].close()
        lsock.close()
    path = os.path.join(outdir, f"sockinfo-{platform.release().split('-')[0]}.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1])
